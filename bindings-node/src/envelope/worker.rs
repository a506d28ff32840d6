//! One task per stream that takes the stream's batches in the order JS sent them.
//!
//! index.js keeps a second batch queued while the first is sealed or opened, so that the native side
//! never waits for a round trip to JS between batches. Two promises spawned one after the other may
//! be polled in either order on napi's multi-threaded runtime; a channel read by one task keeps the
//! packages in order, and a task that is already busy picks the next batch up without a wake-up.

use std::future::Future;

use kesrs_core::Error;
use napi::bindgen_prelude::{Buffer, Env, PromiseRaw};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroize;

use crate::keys::settle;

/// A stream's state: takes the next input (the end when `end`), returns the output ready so far.
pub(super) trait Step: Send + 'static {
    fn step(
        &mut self,
        input: Secret,
        end: bool,
    ) -> impl Future<Output = Result<Vec<u8>, Error>> + Send + '_;
}

/// The sending end of a stream's task. Dropping it (the JS object is collected) ends the task,
/// which drops the stream's state and so wipes its keys.
pub(super) struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
}

struct Job {
    input: Secret,
    end: bool,
    reply: oneshot::Sender<Result<Vec<u8>, Error>>,
}

impl Worker {
    pub(super) fn spawn(state: impl Step) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        napi::bindgen_prelude::spawn(async move {
            let mut state = Some(state);
            while let Some(job) = queue.recv().await {
                let result = match state.as_mut() {
                    Some(state) => state.step(job.input, job.end).await,
                    None => Err(over()),
                };
                if result.is_err() || job.end {
                    // A failed stream cannot be resumed (a package may be half written or half
                    // checked), and a finished one has nothing more to do.
                    state = None;
                }
                // The promise may have been dropped with its environment; nobody is left to tell.
                let _ = job.reply.send(result);
            }
        });
        Self { jobs }
    }

    /// A promise for the output of `input`, after every batch sent before it.
    pub(super) fn submit<'env>(
        &self,
        env: &'env Env,
        input: Secret,
        end: bool,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let (reply, answer) = oneshot::channel();
        let sent = self.jobs.send(Job { input, end, reply }).is_ok();
        settle(
            env,
            async move {
                if !sent {
                    return Err(over());
                }
                answer.await.map_err(|_| over())?
            },
            |_, out| Ok(Buffer::from(out)),
        )
    }
}

/// Bytes that may be plaintext, wiped when dropped.
///
/// Not `Zeroizing<Vec<u8>>`: zeroize wipes a `Vec` element by element with volatile byte stores,
/// which took a fifth of a sealing stream's CPU (as much as AES-GCM); a slice is wiped in bulk,
/// behind zeroize's optimisation barrier.
#[derive(Default)]
pub(super) struct Secret(pub(super) Vec<u8>);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

/// What a stream answers once it has finished or failed.
pub(super) fn over() -> Error {
    Error::InvalidArgument("the stream is finished, or failed".into())
}
