//! The README's snippet, kept compiling: assume a role with whatever the default chain finds,
//! then call STS and RAM with the session.
//!
//! ```sh
//! TESSERA_ENDPOINT=http://127.0.0.1:8080 ROLE_ARN=acs:ram::<account>:role/reader \
//!     cargo run -p tessera-credentials --example assume_role
//! ```

use tessera_credentials::providers::{DefaultChain, RamRoleArnProvider};
use tessera_credentials::Client;

#[tokio::main]
async fn main() -> Result<(), tessera_credentials::Error> {
    let endpoint =
        std::env::var("TESSERA_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let role_arn = std::env::var("ROLE_ARN")
        .unwrap_or_else(|_| "acs:ram::1234567890123456:role/reader".into());

    // The role's session, assumed with whatever the default chain finds, refreshed as needed.
    let session = RamRoleArnProvider::builder(DefaultChain::new())
        .role_arn(role_arn)
        .sts_endpoint(&endpoint)
        .build()?;
    let client = Client::builder()
        .endpoint(&endpoint) // leave out for Alibaba Cloud's public endpoints
        .credentials(session)
        .build()?;
    println!("{}", client.sts().get_caller_identity().await?.arn);
    let users = client
        .call("ram", "ListUsers", "2015-05-01", [("MaxItems", "10")])
        .await?;
    println!("{users}");
    Ok(())
}
