//! Offline recovery of an account root's access: a new root AccessKey issued straight into the
//! data directory of a stopped server, for when every root key is lost or disabled. The API
//! refuses to delete or disable the last active root key, but a secret can still be lost.

use crate::actions::MAX_KEYS_PER_OWNER;
use crate::datadir::DataDir;
use crate::ids::{generate_access_key_secret, AccessKeyId, AccountId};
use anyhow::{bail, Context};
use tessera_protocol::{timestamp, Secret};
use tessera_store::{AccessKeyRecord, AccessKeyStore, AccountStore, KeyOwner, KeyStatus, Store};

/// What [`recover_root_key`] did.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The account whose root got the key.
    pub account_id: AccountId,
    /// The new AccessKey (its secret went only to the caller's `deliver`).
    pub access_key_id: AccessKeyId,
    /// The root key deleted in its place, if one was named.
    pub replaced: Option<AccessKeyId>,
}

/// The first account of the deployment: the operator's.
pub async fn first_account(dir: &DataDir) -> anyhow::Result<AccountId> {
    dir.store
        .meta("first_account")
        .await?
        .map(AccountId::from_trusted)
        .context("the database names no first account")
}

/// Issues a new, active root AccessKey for `account` (default: the first account, the
/// operator's) in a data directory opened with [`crate::datadir::open_existing`].
///
/// `deliver` receives the secret before the key is stored, so a key whose secret could not be
/// written down never exists. A root that already has as many keys as it may needs one of them
/// named in `replace`; it is deleted once the new key is stored.
pub async fn recover_root_key(
    dir: &DataDir,
    account: Option<AccountId>,
    replace: Option<AccessKeyId>,
    now: i64,
    deliver: impl FnOnce(&AccountId, &AccessKeyId, &Secret) -> anyhow::Result<()>,
) -> anyhow::Result<Recovered> {
    let store = &dir.store;
    let account = match account {
        Some(a) => a,
        None => first_account(dir).await?,
    };
    if !store.account_exists(&account).await? {
        bail!("{} has no account {account}", dir.path.display());
    }
    let owner = KeyOwner::Root(account.clone());
    let keys = store.access_keys(&owner).await?;
    let listed = || {
        keys.iter()
            .map(|k| {
                format!(
                    "{} ({}, created {})",
                    k.id,
                    k.status.as_str(),
                    timestamp::format(k.created)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(old) = &replace {
        if !keys.iter().any(|k| &k.id == old) {
            bail!(
                "{old} is not a root AccessKey of account {account} (its keys: {})",
                listed()
            );
        }
    } else if keys.len() >= MAX_KEYS_PER_OWNER {
        bail!(
            "the root of account {account} has {} AccessKeys already, the most it may have: {}; name one to replace (--replace)",
            keys.len(),
            listed()
        );
    }

    let id = AccessKeyId::generate();
    let secret = generate_access_key_secret();
    let record = AccessKeyRecord {
        sealed_secret: dir
            .master
            .seal_secret(id.as_str(), &owner.binding(), &secret),
        id: id.clone(),
        owner: owner.clone(),
        status: KeyStatus::Active,
        created: now,
    };
    deliver(&account, &id, &secret)?;
    // The key being replaced still counts until it is deleted, which only then is allowed even
    // when it was the root's last active key.
    let limit = MAX_KEYS_PER_OWNER + usize::from(replace.is_some());
    store
        .create_access_key(&record, limit)
        .await
        .context("cannot store the new AccessKey")?;
    if let Some(old) = &replace {
        store
            .delete_access_key(&owner, old)
            .await
            .with_context(|| format!("issued {id}, but cannot delete {old}"))?;
    }
    store.close().await?;
    Ok(Recovered {
        account_id: account,
        access_key_id: id,
        replaced: replace,
    })
}
