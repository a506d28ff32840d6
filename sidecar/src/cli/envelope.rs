//! `kesrs seal` and `kesrs open`: sealed messages (docs/envelope.md) from stdin to stdout, streamed,
//! with data keys from a KES server (kesrs or Go KES, the client flags of the other commands) or,
//! with `--fs DIR`, from a KES fs key directory opened in this process.
//!
//! Exit codes as in client.rs; for `open`, 6 means the input is not an authentic envelope for
//! this context (any envelope error but a refused key name).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use tokio::io::{AsyncWriteExt as _, BufWriter};

use kesrs_core::{
    AsyncDataKeys, Context, Envelope, EnvelopeError, Error, ErrorCode, KeyName, Keys, Pattern,
};

use super::client::ClientArgs;

/// `kesrs seal NAME`.
#[derive(Debug, Args)]
pub(crate) struct SealArgs {
    /// The key whose data key seals the message.
    name: String,
    #[command(flatten)]
    source: KeySource,
}

/// `kesrs open`.
#[derive(Debug, Args)]
pub(crate) struct OpenArgs {
    /// Open only envelopes naming a key that matches PATTERN (a trailing `*` is a prefix); may be
    /// repeated. Default: any key the credentials may decrypt with.
    #[arg(long, value_name = "PATTERN")]
    accept: Vec<String>,
    #[command(flatten)]
    source: KeySource,
}

/// The context and where data keys come from, for both commands.
#[derive(Debug, Args)]
struct KeySource {
    /// The context the message is bound to, as text (its UTF-8 bytes): open needs the same.
    #[arg(long, value_name = "TEXT", default_value = "")]
    context: String,
    /// Use the KES fs key store in DIR, in this process, instead of a server (no policies apply).
    #[arg(long, value_name = "DIR")]
    fs: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Runs `kesrs seal`: stdin sealed under the key, to stdout.
pub(crate) fn seal(args: SealArgs) -> anyhow::Result<ExitCode> {
    let context = Context::from_bytes(args.source.context.as_bytes());
    let envelope = Envelope::new(args.source.keys()?);
    run(async move {
        let name = KeyName::new(&args.name)?;
        let stdout = BufWriter::new(tokio::io::stdout());
        let mut writer = envelope.seal_writer_async(&name, &context, stdout).await?;
        tokio::io::copy(&mut tokio::io::stdin(), &mut writer)
            .await
            .map_err(Error::from)?;
        // Writes the final package.
        writer.shutdown().await.map_err(Error::from)?;
        Ok(())
    })
}

/// Runs `kesrs open`: the plaintext of the envelope on stdin, to stdout. Each package's plaintext is
/// written once it is authenticated, so a failure can follow some output: only exit code 0 says the
/// whole message was authentic and complete.
pub(crate) fn open(args: OpenArgs) -> anyhow::Result<ExitCode> {
    let context = Context::from_bytes(args.source.context.as_bytes());
    let envelope = Envelope::new(args.source.keys()?);
    run(async move {
        let envelope = if args.accept.is_empty() {
            envelope
        } else {
            let patterns = args.accept.iter().map(|p| Pattern::new(p));
            envelope.accept_keys(patterns.collect::<Result<Vec<_>, _>>()?)
        };
        let mut reader = envelope
            .open_reader_async(tokio::io::stdin(), &context)
            .await?;
        let mut stdout = BufWriter::new(tokio::io::stdout());
        tokio::io::copy(&mut reader, &mut stdout)
            .await
            .map_err(Error::from)?;
        stdout.flush().await.map_err(Error::from)?;
        Ok(())
    })
}

type DataKeySource = Arc<dyn AsyncDataKeys>;

impl KeySource {
    fn keys(&self) -> anyhow::Result<DataKeySource> {
        Ok(match &self.fs {
            Some(dir) => Arc::new(
                Keys::from_fs(dir)
                    .with_context(|| format!("opening the key directory '{}'", dir.display()))?,
            ),
            None => Arc::new(self.client.connect()?),
        })
    }
}

/// Runs a command on a small runtime, turning its error into the documented exit code.
fn run(future: impl std::future::Future<Output = Result<(), Error>>) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(future) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("Error: {err}");
            Ok(ExitCode::from(exit_code(&err)))
        }
    }
}

fn exit_code(err: &Error) -> u8 {
    match err {
        Error::Envelope(EnvelopeError::KeyNotAccepted) => 4,
        // Sealing more than 256 TiB: not a decryption failure.
        Error::Envelope(EnvelopeError::TooLarge) => 1,
        Error::Envelope(_) => 6,
        err => match err.code() {
            ErrorCode::DecryptFailed => 6,
            ErrorCode::KeyNotFound => 3,
            ErrorCode::NotAllowed => 4,
            ErrorCode::InvalidArgument => 2,
            _ => 1,
        },
    }
}
