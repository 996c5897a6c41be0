//! The merged configuration tree and its deserialiser.
//!
//! An environment variable is text; whether `1234567` is a number or a
//! string depends on the key it sets, which only the target type knows. So
//! the tree keeps each environment value as its raw text ([`Node::Env`]) and
//! decides at deserialisation: a key of type `String` (or `Option<String>`,
//! `SecretString`, a URL, a path, ...) gets the text exactly as written
//! (`007`, `0x1F`, `1e3` and `1_000` stay what they are), any other key gets
//! the value parsed as TOML (an integer, float, boolean or array), as
//! before. A scalar written in the TOML file for a string key (`partner_id =
//! 1234567`) is accepted as its TOML text too. This covers every section,
//! the platform's and the capabilities', without a helper per field.

use std::collections::BTreeMap;

use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use toml::de::Error;

/// One value of the merged tree.
#[derive(Debug, Clone)]
pub enum Node {
    Table(BTreeMap<String, Node>),
    Array(Vec<Node>),
    /// A scalar from the TOML file.
    Toml(toml::Value),
    /// The raw text of a `P360_*` variable.
    Env(String),
}

impl From<toml::Value> for Node {
    fn from(v: toml::Value) -> Self {
        match v {
            toml::Value::Table(t) => {
                Node::Table(t.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
            toml::Value::Array(a) => Node::Array(a.into_iter().map(Node::from).collect()),
            other => Node::Toml(other),
        }
    }
}

impl Node {
    /// An environment value as the typed value its TOML syntax denotes
    /// (numbers, booleans, arrays), else as a string; other nodes unchanged.
    fn typed(self) -> Node {
        match self {
            Node::Env(raw) => Node::from(typed_env_value(&raw)),
            other => other,
        }
    }
}

/// `raw` as a TOML integer, float, boolean or array if it is one, else a string.
fn typed_env_value(raw: &str) -> toml::Value {
    if let Ok(table) = format!("v = {raw}").parse::<toml::Table>()
        && let Some(v) = table.get("v")
        && matches!(
            v,
            toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
                | toml::Value::Array(_)
        )
    {
        return v.clone();
    }
    toml::Value::String(raw.to_string())
}

/// A method that asks for a specific non-string type: environment text is
/// parsed first, file scalars go to `toml`'s own deserialiser.
macro_rules! typed_method {
    ($($method:ident ( $($arg:ident : $ty:ty),* );)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            match self.typed() {
                Node::Toml(v) => de::Deserializer::$method(v, $($arg,)* visitor),
                node => node.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.typed() {
            Node::Table(t) => visitor.visit_map(TableAccess {
                entries: t.into_iter(),
                value: None,
            }),
            Node::Array(a) => visitor.visit_seq(ArrayAccess {
                items: a.into_iter(),
            }),
            Node::Toml(v) => de::Deserializer::deserialize_any(v, visitor),
            Node::Env(_) => unreachable!("typed() parses environment text"),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    /// A string key takes environment text verbatim and a file scalar as its TOML text.
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Env(raw) => visitor.visit_string(raw),
            Node::Toml(
                v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
            ) => visitor.visit_string(v.to_string()),
            Node::Toml(v) => de::Deserializer::deserialize_string(v, visitor),
            node => node.deserialize_any(visitor),
        }
    }

    /// TOML has no null: a key that is present is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            // A variant name is text, whatever it looks like.
            Node::Env(raw) => de::Deserializer::deserialize_enum(
                toml::Value::String(raw),
                name,
                variants,
                visitor,
            ),
            Node::Toml(v) => de::Deserializer::deserialize_enum(v, name, variants, visitor),
            Node::Table(t) => visitor.visit_enum(MapAccessDeserializer::new(TableAccess {
                entries: t.into_iter(),
                value: None,
            })),
            node => node.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    typed_method! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_identifier();
    }
}

impl<'de> IntoDeserializer<'de, Error> for Node {
    type Deserializer = Node;

    fn into_deserializer(self) -> Node {
        self
    }
}

struct TableAccess {
    entries: std::collections::btree_map::IntoIter<String, Node>,
    value: Option<Node>,
}

impl<'de> MapAccess<'de> for TableAccess {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key: StringDeserializer<Error> = k.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("value requested before its key"))?;
        seed.deserialize(v)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct ArrayAccess {
    items: std::vec::IntoIter<Node>,
}

impl<'de> SeqAccess<'de> for ArrayAccess {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.items.next().map(|n| seed.deserialize(n)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}
