//! The ids of the audiences capability's objects.

platform::typed_id! {
    /// An audience.
    pub struct AudienceId;
}
