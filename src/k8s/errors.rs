//! Turns API failures into the typed outcomes users see: unreachable, unauthorized, forbidden.
use crate::error::KaptureError;

use super::Cluster;

/// Wraps a kube error that happened while doing `verb` on `resource` in the namespace.
pub fn explain(cluster: &Cluster, verb: &str, resource: &str, err: kube::Error) -> anyhow::Error {
    explain_in(cluster, Some(&cluster.namespace), verb, resource, err)
}

/// As [`explain`], for cluster-scoped resources (`namespace: None`).
pub fn explain_in(
    cluster: &Cluster,
    namespace: Option<&str>,
    verb: &str,
    resource: &str,
    err: kube::Error,
) -> anyhow::Error {
    match &err {
        kube::Error::Api(status) if status.code == 403 => KaptureError::Forbidden {
            user: forbidden_user(&status.message),
            verb: verb.to_string(),
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
        }
        .into(),
        kube::Error::Api(status) if status.code == 401 => KaptureError::Unauthorized {
            context: cluster.context.clone(),
        }
        .into(),
        kube::Error::HyperError(_) | kube::Error::Service(_) => KaptureError::Unreachable {
            server: cluster.server.clone(),
            reason: root_cause(&err),
        }
        .into(),
        kube::Error::Api(status) => anyhow::anyhow!(
            "cannot {verb} {resource}: {} (HTTP {})",
            status.message.trim_end_matches([':', ' ']),
            status.code
        ),
        _ => anyhow::Error::new(err).context(format!("cannot {verb} {resource}")),
    }
}

/// The user name in a 403 message (`User "x" cannot list resource ...`), else "you".
fn forbidden_user(message: &str) -> String {
    message
        .split_once("User \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(user, _)| format!("user {user:?}"))
        .unwrap_or_else(|| "you".to_string())
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_forbidden_user() {
        let msg = r#"pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "kapture""#;
        assert_eq!(forbidden_user(msg), "user \"nobody\"");
        assert_eq!(forbidden_user("forbidden"), "you");
    }
}
