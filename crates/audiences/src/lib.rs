//! Audiences: the companies a campaign targets, chosen by the customer's
//! account lists, Bombora intent and firmographics ([`rule`]), computed in
//! memory from a loaded surge week and the company universe ([`build`]),
//! each build kept with its members' reasons and the diff from the last.

pub mod build;
pub mod rule;
