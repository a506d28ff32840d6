//! `kesrs check` for Azure: each secret permission kesrs uses, tried one call at a time on a
//! temporary secret, so that a missing one is named before a client request runs into it.
//!
//! The generic probe would not do: a delete hides a failed purge (KES semantics), and a create also
//! lists, so a missing `list` would show as a failed `set`.

use super::retry::{retry, Failure, Permission};
use super::{names, AzureStore};
use crate::keystore::ProbeStep;
use crate::{KeyName, StoreError};

const VALUE: &str = "kesrs check: temporary probe value, safe to delete";

impl AzureStore {
    /// list, set, get, delete and purge, in that order, on the secret of `name`.
    pub(super) async fn probe_permissions(&self, name: &KeyName) -> Vec<ProbeStep> {
        let secret = names::secret_name(name);
        let secret = secret.as_str();
        let deadline = self.deadline();
        let mut steps = Vec::with_capacity(5);
        let listed = self
            .list_names(name.as_str(), deadline)
            .await
            .map(drop)
            .map_err(Failure::into_store_error);
        steps.push(ProbeStep::done("list", listed));

        let set = self
            .set_tagged(name, secret, VALUE, deadline)
            .await
            .map(drop)
            .map_err(Failure::into_store_error);
        let created = set.is_ok();
        steps.push(ProbeStep::done("set", set));
        if !created {
            steps.extend(["get", "delete", "purge"].map(ProbeStep::not_tried));
            return steps;
        }

        let get = || async move {
            self.clients
                .secrets
                .get_secret(secret, None)
                .await?
                .into_model()
        };
        let read = retry(Permission::Get, self.backoff, deadline, get)
            .await
            .map_err(Failure::into_store_error)
            .and_then(|stored| match stored.value.as_deref() {
                Some(VALUE) => Ok(()),
                _ => Err(StoreError::Failed(
                    "the probe secret read back with a different value".into(),
                )),
            });
        steps.push(ProbeStep::done("get", read));

        let delete = || self.clients.secrets.delete_secret(secret, None);
        let deleted = retry(Permission::Delete, self.backoff, deadline, delete)
            .await
            .map(drop)
            .map_err(Failure::into_store_error);
        let ok = deleted.is_ok();
        steps.push(ProbeStep::done(
            "delete",
            deleted.map_err(|err| {
                StoreError::Failed(
                    format!("{err}; remove the probe secret '{secret}' by hand").into(),
                )
            }),
        ));
        if !ok {
            steps.push(ProbeStep::not_tried("purge"));
            return steps;
        }
        // A fresh deadline: a slow soft delete must not be mistaken for a missing permission.
        let purged = self
            .purge(secret, self.deadline())
            .await
            .map_err(Failure::into_store_error)
            .map_err(|err| {
                StoreError::Failed(
                    format!(
                        "{err}; the deleted probe secret '{secret}' stays soft-deleted until \
                         Azure purges it"
                    )
                    .into(),
                )
            });
        steps.push(ProbeStep::done("purge", purged));
        steps
    }
}
