//! The ids of the accounts capability's tenant objects (UUIDv7 on the wire
//! and in the database, distinct types in the code).

platform::typed_id! {
    /// An account list (a customer's upload of the companies it targets).
    pub struct AccountListId;
}
