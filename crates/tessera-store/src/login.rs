//! Console login profiles. The store holds only password hashes (PHC strings from
//! the server's password module); it never sees a plaintext password.

use super::StoreResult;
use crate::ids::{AccountId, UserId, UserName};
use async_trait::async_trait;
use std::fmt;

/// A user's console login profile.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginProfileRecord {
    /// The user's account.
    pub account: AccountId,
    /// The user's id.
    pub user_id: UserId,
    /// The user's current name.
    pub user_name: UserName,
    /// The password's hash, a PHC string.
    pub password_hash: String,
    /// The user must set a new password at the next console login.
    pub password_reset_required: bool,
    /// The user must bind an MFA device at the next console login.
    pub mfa_bind_required: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
}

impl fmt::Debug for LoginProfileRecord {
    // The hash is not the password, but an offline guessing attack needs nothing else: keep it
    // out of logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginProfileRecord")
            .field("account", &self.account)
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("password_hash", &"***")
            .field("password_reset_required", &self.password_reset_required)
            .field("mfa_bind_required", &self.mfa_bind_required)
            .field("created", &self.created)
            .field("updated", &self.updated)
            .finish()
    }
}

/// A new login profile: everything but what the store fills in from the user.
#[derive(Clone)]
pub struct NewLoginProfile {
    /// The password's hash, a PHC string.
    pub password_hash: String,
    /// See [`LoginProfileRecord::password_reset_required`].
    pub password_reset_required: bool,
    /// See [`LoginProfileRecord::mfa_bind_required`].
    pub mfa_bind_required: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
}

impl fmt::Debug for NewLoginProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewLoginProfile")
            .field("password_hash", &"***")
            .field("password_reset_required", &self.password_reset_required)
            .field("mfa_bind_required", &self.mfa_bind_required)
            .field("created", &self.created)
            .finish()
    }
}

/// Changes to a login profile; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct LoginProfileUpdate {
    /// A new password hash.
    pub password_hash: Option<String>,
    /// A new value for the reset flag.
    pub password_reset_required: Option<bool>,
    /// A new value for the MFA flag.
    pub mfa_bind_required: Option<bool>,
}

impl fmt::Debug for LoginProfileUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginProfileUpdate")
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .field("password_reset_required", &self.password_reset_required)
            .field("mfa_bind_required", &self.mfa_bind_required)
            .finish()
    }
}

impl LoginProfileUpdate {
    /// `profile` with this update applied at `now`.
    pub(crate) fn applied(self, mut profile: LoginProfileRecord, now: i64) -> LoginProfileRecord {
        let LoginProfileUpdate {
            password_hash,
            password_reset_required,
            mfa_bind_required,
        } = self;
        if let Some(v) = password_hash {
            profile.password_hash = v;
        }
        if let Some(v) = password_reset_required {
            profile.password_reset_required = v;
        }
        if let Some(v) = mfa_bind_required {
            profile.mfa_bind_required = v;
        }
        profile.updated = now;
        profile
    }
}

/// Login profiles, one at most per user, addressed by the user's name. Each method is one
/// transaction.
#[async_trait]
pub trait LoginProfileStore: Send + Sync {
    /// Creates the user's login profile unless it has one; returns it.
    async fn create_login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
        profile: &NewLoginProfile,
    ) -> StoreResult<LoginProfileRecord>;

    /// Reads the user's login profile.
    async fn login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
    ) -> StoreResult<LoginProfileRecord>;

    /// Applies `update` to the user's login profile at time `now`; returns the new record.
    async fn update_login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
        update: &LoginProfileUpdate,
        now: i64,
    ) -> StoreResult<LoginProfileRecord>;

    /// Deletes the user's login profile.
    async fn delete_login_profile(&self, account: &AccountId, user: &UserName) -> StoreResult<()>;
}
