//! Building blocks for capabilities' domain types: ids that cannot be mixed
//! up ([`typed_id!`](crate::typed_id)) and closed sets of values stored as text
//! ([`text_enum!`](crate::text_enum)). Both are transparent on the wire (JSON)
//! and in PostgreSQL, so the schema and the API stay what they were.

/// A typed UUIDv7 id: `CampaignId` and `AdvertiserId` are different types,
/// serialised and stored as the bare UUID.
///
/// ```ignore
/// platform::typed_id! {
///     /// A campaign.
///     pub struct CampaignId;
/// }
/// ```
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(pub $crate::types::__private::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                $name($crate::types::__private::Uuid::now_v7())
            }
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::types::__private::uuid::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl ::std::convert::From<$crate::types::__private::Uuid> for $name {
            fn from(u: $crate::types::__private::Uuid) -> Self {
                $name(u)
            }
        }

        impl ::std::convert::From<$name> for $crate::types::__private::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl $crate::types::__private::serde::Serialize for $name {
            fn serialize<S: $crate::types::__private::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> $crate::types::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::types::__private::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                $crate::types::__private::Uuid::deserialize(d).map($name)
            }
        }

        $crate::__transparent_sql!($name, $crate::types::__private::Uuid, |v| $name(v), |s| &s.0);

        impl $crate::types::__private::utoipa::PartialSchema for $name {
            fn schema() -> $crate::types::__private::utoipa::openapi::RefOr<
                $crate::types::__private::utoipa::openapi::schema::Schema,
            > {
                $crate::types::uuid_schema()
            }
        }

        impl $crate::types::__private::utoipa::ToSchema for $name {}
    };
}

/// A closed set of values stored as `text` and sent as strings: statuses,
/// objectives, pacing modes. Parsing an unknown value names the allowed ones.
///
/// ```ignore
/// platform::text_enum! {
///     /// How a campaign spends its budget over the flight.
///     pub enum Pacing { Even = "even", Ahead = "ahead", Asap = "asap" }
/// }
/// ```
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The allowed values, for error messages: `a, b, c`.
            pub fn allowed() -> ::std::string::String {
                $crate::types::allowed_list(&[$($text),+])
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::types::UnknownValue;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $( $text => ::std::result::Result::Ok($name::$variant), )+
                    _ => ::std::result::Result::Err($crate::types::UnknownValue {
                        value: s.chars().take(64).collect(),
                        allowed: $name::allowed(),
                    }),
                }
            }
        }

        impl $crate::types::__private::serde::Serialize for $name {
            fn serialize<S: $crate::types::__private::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::types::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::types::__private::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(<D::Error as $crate::types::__private::serde::de::Error>::custom)
            }
        }

        $crate::__text_sql!($name);

        impl $crate::types::__private::utoipa::PartialSchema for $name {
            fn schema() -> $crate::types::__private::utoipa::openapi::RefOr<
                $crate::types::__private::utoipa::openapi::schema::Schema,
            > {
                $crate::types::string_enum_schema(&[$($text),+])
            }
        }

        impl $crate::types::__private::utoipa::ToSchema for $name {}
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __transparent_sql {
    ($name:ty, $inner:ty, |$v:ident| $wrap:expr, |$s:ident| $unwrap:expr) => {
        impl $crate::types::__private::sqlx::Type<$crate::types::__private::sqlx::Postgres> for $name {
            fn type_info() -> $crate::types::__private::sqlx::postgres::PgTypeInfo {
                <$inner as $crate::types::__private::sqlx::Type<$crate::types::__private::sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &$crate::types::__private::sqlx::postgres::PgTypeInfo) -> bool {
                <$inner as $crate::types::__private::sqlx::Type<$crate::types::__private::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl $crate::types::__private::sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> $crate::types::__private::sqlx::postgres::PgTypeInfo {
                <$inner as $crate::types::__private::sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl<'q> $crate::types::__private::sqlx::Encode<'q, $crate::types::__private::sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::types::__private::sqlx::postgres::PgArgumentBuffer,
            ) -> ::std::result::Result<
                $crate::types::__private::sqlx::encode::IsNull,
                $crate::types::__private::sqlx::error::BoxDynError,
            > {
                let $s = self;
                <$inner as $crate::types::__private::sqlx::Encode<'q, $crate::types::__private::sqlx::Postgres>>::encode_by_ref($unwrap, buf)
            }
        }

        impl<'r> $crate::types::__private::sqlx::Decode<'r, $crate::types::__private::sqlx::Postgres> for $name {
            fn decode(
                value: $crate::types::__private::sqlx::postgres::PgValueRef<'r>,
            ) -> ::std::result::Result<Self, $crate::types::__private::sqlx::error::BoxDynError> {
                let $v = <$inner as $crate::types::__private::sqlx::Decode<'r, $crate::types::__private::sqlx::Postgres>>::decode(value)?;
                ::std::result::Result::Ok($wrap)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __text_sql {
    ($name:ty) => {
        impl $crate::types::__private::sqlx::Type<$crate::types::__private::sqlx::Postgres>
            for $name
        {
            fn type_info() -> $crate::types::__private::sqlx::postgres::PgTypeInfo {
                <&str as $crate::types::__private::sqlx::Type<
                    $crate::types::__private::sqlx::Postgres,
                >>::type_info()
            }
            fn compatible(ty: &$crate::types::__private::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as $crate::types::__private::sqlx::Type<
                    $crate::types::__private::sqlx::Postgres,
                >>::compatible(ty)
            }
        }

        impl $crate::types::__private::sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> $crate::types::__private::sqlx::postgres::PgTypeInfo {
                <&str as $crate::types::__private::sqlx::postgres::PgHasArrayType>::array_type_info(
                )
            }
        }

        impl<'q>
            $crate::types::__private::sqlx::Encode<'q, $crate::types::__private::sqlx::Postgres>
            for $name
        {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::types::__private::sqlx::postgres::PgArgumentBuffer,
            ) -> ::std::result::Result<
                $crate::types::__private::sqlx::encode::IsNull,
                $crate::types::__private::sqlx::error::BoxDynError,
            > {
                <&str as $crate::types::__private::sqlx::Encode<
                    'q,
                    $crate::types::__private::sqlx::Postgres,
                >>::encode(self.as_str(), buf)
            }
        }

        impl<'r>
            $crate::types::__private::sqlx::Decode<'r, $crate::types::__private::sqlx::Postgres>
            for $name
        {
            fn decode(
                value: $crate::types::__private::sqlx::postgres::PgValueRef<'r>,
            ) -> ::std::result::Result<Self, $crate::types::__private::sqlx::error::BoxDynError>
            {
                let s = <&str as $crate::types::__private::sqlx::Decode<
                    'r,
                    $crate::types::__private::sqlx::Postgres,
                >>::decode(value)?;
                ::std::result::Result::Ok(s.parse::<$name>()?)
            }
        }
    };
}

/// A value outside a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not one of {allowed}")]
pub struct UnknownValue {
    pub value: String,
    pub allowed: String,
}

/// `a, b, c`.
pub fn allowed_list(values: &[&str]) -> String {
    values.join(", ")
}

/// The OpenAPI schema of a UUID.
pub fn uuid_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}

/// The OpenAPI schema of a string with these values.
pub fn string_enum_schema(
    values: &[&'static str],
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use sqlx;
    pub use utoipa;
    pub use uuid;
    pub use uuid::Uuid;
}

#[cfg(test)]
mod tests {
    crate::typed_id! {
        /// A thing.
        pub struct ThingId;
    }

    crate::text_enum! {
        /// A colour.
        pub enum Colour { Red = "red", DarkBlue = "dark_blue" }
    }

    #[test]
    fn ids_are_transparent_uuids() {
        let id = ThingId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.0));
        assert_eq!(serde_json::from_str::<ThingId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<ThingId>().unwrap(), id);
    }

    #[test]
    fn text_enums_round_trip_and_name_the_allowed_values() {
        assert_eq!(Colour::ALL, &[Colour::Red, Colour::DarkBlue]);
        assert_eq!("dark_blue".parse::<Colour>(), Ok(Colour::DarkBlue));
        assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "\"red\"");
        let e = "blue".parse::<Colour>().unwrap_err();
        assert_eq!(e.to_string(), "`blue` is not one of red, dark_blue");
        assert!(serde_json::from_str::<Colour>("\"green\"").is_err());
    }
}
