//! The gateway's error catalogue: what any POP endpoint answers when a request cannot be
//! authenticated or routed (spec §7.2). Product errors (RAM, STS) live with their products; all
//! of them become a [`WireError`].

use std::borrow::Cow;

/// An error as it goes on the wire: HTTP status, `Code` and `Message`.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    /// HTTP status code.
    pub status: u16,
    /// The `Code` field, e.g. `InvalidAccessKeyId.NotFound`.
    pub code: Cow<'static, str>,
    /// The `Message` field, human readable; clients parse some of them.
    pub message: Cow<'static, str>,
    /// More members after the standard ones, e.g. `AccessDeniedDetail`.
    pub extra: Vec<(&'static str, crate::node::Node)>,
}

impl WireError {
    /// Builds a wire error.
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        WireError {
            status,
            code: code.into(),
            message: message.into(),
            extra: Vec::new(),
        }
    }
}

/// What precedes the echoed string to sign in a `SignatureDoesNotMatch` message (Alibaba
/// Cloud's wording, which Tessera repeats).
pub const STRING_TO_SIGN_MARKER: &str = "server string to sign is:";

/// A service error message without an echoed string to sign, which repeats every parameter of
/// the request (a SecurityToken, a password) and must not reach a client's logs.
pub fn without_string_to_sign(message: &str) -> &str {
    match message.find(STRING_TO_SIGN_MARKER) {
        Some(i) => message[..i].trim_end(),
        None => message,
    }
}

/// The longest string to sign that a `SignatureDoesNotMatch` message repeats in full.
pub const MAX_ECHOED_STRING_TO_SIGN: usize = 8 * 1024;

/// Errors of the common request checks, in the order the gateway makes them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A required common parameter is absent.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// A required V3 header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A common parameter has a value the gateway does not accept.
    #[error("invalid parameter {0}")]
    InvalidParameter(&'static str),
    /// `Format` (or `Accept`) asks for something other than JSON or XML.
    #[error("unsupported format")]
    InvalidFormat,
    /// No such AccessKeyId.
    #[error("access key not found")]
    AccessKeyNotFound,
    /// The AccessKey is disabled.
    #[error("access key disabled")]
    AccessKeyInactive,
    /// SignatureMethod or SignatureVersion (or the V3 algorithm) is not supported.
    #[error("unsupported signature method")]
    InvalidSignatureMethod,
    /// The request has neither a V1 `Signature` nor a V3 `Authorization`, or a malformed one.
    #[error("incomplete signature")]
    IncompleteSignature,
    /// `Timestamp` / `x-acs-date` is not ISO 8601.
    #[error("bad timestamp format")]
    TimestampFormat,
    /// `Timestamp` / `x-acs-date` is more than 15 minutes away from the server's clock.
    #[error("timestamp expired")]
    TimestampExpired,
    /// The signature does not match; carries the server's string to sign.
    #[error("signature does not match")]
    SignatureDoesNotMatch {
        /// The string the server signed, returned so clients can diagnose their canonicalisation.
        string_to_sign: String,
    },
    /// `x-acs-content-sha256` does not match the body.
    #[error("content hash does not match")]
    ContentHashMismatch,
    /// The nonce was seen within the timestamp window.
    #[error("nonce used")]
    NonceUsed,
    /// The `Version` names no product this endpoint serves.
    #[error("invalid version")]
    InvalidVersion,
    /// The `Action` does not exist in that product version.
    #[error("invalid action")]
    InvalidAction,
    /// The HTTP method is neither GET nor POST.
    #[error("unsupported HTTP method")]
    UnsupportedHttpMethod,
    /// The request is larger than the gateway accepts.
    #[error("request too large")]
    RequestTooLarge,
    /// An `STS.` AccessKeyId without its SecurityToken.
    #[error("missing security token")]
    MissingSecurityToken,
    /// The SecurityToken is not one this server issued, or is damaged.
    #[error("malformed security token")]
    SecurityTokenMalformed,
    /// The SecurityToken was issued for another AccessKeyId.
    #[error("security token mismatch")]
    SecurityTokenMismatch,
    /// The SecurityToken has expired (or its session was ended).
    #[error("security token expired")]
    SecurityTokenExpired,
    /// The body did not arrive in time.
    #[error("request timeout")]
    RequestTimeout,
    /// More parameters than any action takes.
    #[error("too many parameters")]
    TooManyParameters,
    /// A parameter name appears more than once (the signature would not tell which one counts).
    #[error("duplicate parameter")]
    DuplicateParameter(String),
    /// Too many requests in flight or remembered.
    #[error("throttled")]
    Throttling,
    /// This AccessKey alone has made too many requests (its share of a shared limit).
    #[error("throttled for this user")]
    ThrottlingUser,
    /// Something broke on the server; details go to the log, never to the client.
    #[error("internal error")]
    InternalError,
    /// Something the server needs is unreachable for now (the shared replay window); the
    /// official SDKs retry this code.
    #[error("service unavailable")]
    ServiceUnavailable,
}

impl GatewayError {
    /// The error as the gateway sends it.
    pub fn to_wire(&self) -> WireError {
        use GatewayError::*;
        match self {
            MissingParameter(name) => WireError::new(
                400,
                format!("Missing{name}"),
                format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
            ),
            MissingHeader(name) => WireError::new(
                400,
                "MissingParameter",
                format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
            ),
            InvalidParameter(name) => {
                WireError::new(400, "InvalidParameter", format!("The specified parameter \"{name}\" is not valid."))
            }
            InvalidFormat => WireError::new(400, "InvalidParameter.Format", "The specified parameter \"Format\" is not valid."),
            AccessKeyNotFound => WireError::new(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
            AccessKeyInactive => WireError::new(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled."),
            InvalidSignatureMethod => {
                WireError::new(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
            }
            IncompleteSignature => {
                WireError::new(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
            }
            TimestampFormat => {
                WireError::new(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
            }
            TimestampExpired => {
                WireError::new(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
            }
            SignatureDoesNotMatch { string_to_sign } if string_to_sign.len() <= MAX_ECHOED_STRING_TO_SIGN => WireError::new(
                400,
                "SignatureDoesNotMatch",
                format!("Specified signature is not matched with our calculation. {STRING_TO_SIGN_MARKER}{string_to_sign}"),
            ),
            // Echoing a huge string would let anyone who knows an AccessKeyId make the server
            // send back several times what it received. The colon stays: the old Python SDK
            // splits the message on it.
            SignatureDoesNotMatch { string_to_sign } => WireError::new(
                400,
                "SignatureDoesNotMatch",
                format!("Specified signature is not matched with our calculation. {STRING_TO_SIGN_MARKER}(omitted, {} bytes)", string_to_sign.len()),
            ),
            ContentHashMismatch => WireError::new(
                400,
                "ContentSHA256NotMatched",
                "The x-acs-content-sha256 header does not match the SHA-256 of the request body.",
            ),
            MissingSecurityToken => WireError::new(400, "MissingSecurityToken", "SecurityToken is mandatory for this action."),
            SecurityTokenMalformed => WireError::new(400, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed."),
            SecurityTokenMismatch => {
                WireError::new(400, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
            }
            SecurityTokenExpired => WireError::new(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."),
            RequestTimeout => WireError::new(408, "RequestTimeout", "The request was not received in time."),
            TooManyParameters => WireError::new(400, "InvalidParameter", "The request has more parameters than any action accepts."),
            DuplicateParameter(name) => {
                WireError::new(400, "InvalidParameter", format!("The parameter \"{name}\" is specified more than once."))
            }
            NonceUsed => WireError::new(400, "SignatureNonceUsed", "Specified signature nonce was used already."),
            InvalidVersion => WireError::new(400, "InvalidVersion", "Specified parameter Version is not valid."),
            InvalidAction => {
                WireError::new(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
            }
            UnsupportedHttpMethod => WireError::new(400, "UnsupportedHTTPMethod", "This http method is not supported."),
            RequestTooLarge => WireError::new(413, "RequestTooLarge", "The request is larger than the server accepts."),
            Throttling => WireError::new(400, "Throttling", "Request was denied due to request throttling."),
            ThrottlingUser => WireError::new(400, "Throttling.User", "Request was denied due to user flow control."),
            InternalError => WireError::new(
                500,
                "InternalError",
                "The request processing has failed due to some unknown error, exception or failure.",
            ),
            ServiceUnavailable => WireError::new(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_echoed_string_to_sign_can_be_cut_off() {
        let w = GatewayError::SignatureDoesNotMatch {
            string_to_sign: "GET&%2F&SecurityToken%3Dsekrit".into(),
        }
        .to_wire();
        assert!(w.message.contains("sekrit"));
        let cut = without_string_to_sign(&w.message);
        assert_eq!(
            cut,
            "Specified signature is not matched with our calculation."
        );
        assert_eq!(without_string_to_sign("no echo here"), "no echo here");
    }

    use super::*;

    #[test]
    fn signature_message_ends_with_string_to_sign() {
        let w = GatewayError::SignatureDoesNotMatch {
            string_to_sign: "GET&%2F&A%3D1".into(),
        }
        .to_wire();
        assert_eq!(w.status, 400);
        // The old Python SDK splits on the first ':' and compares the tail with its own string.
        assert_eq!(
            w.message.split_once(':').map(|(_, t)| t),
            Some("GET&%2F&A%3D1")
        );
    }

    #[test]
    fn long_strings_to_sign_are_not_echoed() {
        let w = GatewayError::SignatureDoesNotMatch {
            string_to_sign: "x".repeat(MAX_ECHOED_STRING_TO_SIGN + 1),
        }
        .to_wire();
        assert!(w.message.len() < 200);
        assert!(w.message.contains(':'));
    }

    #[test]
    fn statuses() {
        assert_eq!(GatewayError::AccessKeyNotFound.to_wire().status, 404);
        assert_eq!(GatewayError::InvalidAction.to_wire().status, 404);
        assert_eq!(GatewayError::NonceUsed.to_wire().code, "SignatureNonceUsed");
        let w = GatewayError::ThrottlingUser.to_wire();
        assert_eq!(
            (w.status, w.code.as_ref(), w.message.as_ref()),
            (
                400,
                "Throttling.User",
                "Request was denied due to user flow control."
            )
        );
        assert_eq!(GatewayError::Throttling.to_wire().code, "Throttling");
        assert_eq!(
            GatewayError::MissingParameter("AccessKeyId").to_wire().code,
            "MissingAccessKeyId"
        );
    }
}
