//! `Keys` without a runtime, inside runtimes of every flavour, and across `fork()`.

// Unsafe: `fork`, `waitpid` and `_exit` (the child must not run the test harness's atexit handlers).
#![allow(unsafe_code)]
// Helpers are not `#[test]` functions, so clippy.toml's test allowances do not reach them.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use kesrs_core::{Error, KeyName, Keys};

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

/// A data key made by `keys` decrypts again, through the blocking handle.
fn round_trip(keys: &Keys, key: &str) {
    let blocking = keys.blocking();
    blocking.create_key(&name(key)).unwrap();
    let dek = blocking.generate_key(&name(key), b"ctx").unwrap();
    let plaintext = blocking
        .decrypt(&name(key), dek.ciphertext(), b"ctx")
        .unwrap();
    assert_eq!(&plaintext[..], dek.plaintext());
}

#[test]
fn blocking_calls_need_no_runtime() {
    let dir = tempfile::tempdir().unwrap();
    // The fs store reads on a blocking pool, which the caller does not have.
    round_trip(&Keys::from_fs(dir.path()).unwrap(), "no-runtime");
}

#[test]
fn blocking_calls_work_on_a_runtime_thread_of_either_flavour() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::from_fs(dir.path()).unwrap();
    for (i, mut builder) in [
        tokio::runtime::Builder::new_current_thread(),
        tokio::runtime::Builder::new_multi_thread(),
    ]
    .into_iter()
    .enumerate()
    {
        let runtime = builder.enable_all().build().unwrap();
        let keys = keys.clone();
        // tokio's own block_on would panic here: "Cannot start a runtime from within a runtime".
        runtime.block_on(async move { round_trip(&keys, &format!("in-runtime-{i}")) });
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_calls_work_from_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::from_fs(dir.path()).unwrap();
    keys.create_key(&name("async")).await.unwrap();
    let dek = keys.generate_key(&name("async"), b"").await.unwrap();
    let plaintext = keys
        .decrypt(&name("async"), dek.ciphertext(), b"")
        .await
        .unwrap();
    assert_eq!(&plaintext[..], dek.plaintext());
}

#[test]
fn async_calls_work_from_a_foreign_executor() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::from_fs(dir.path()).unwrap();
    futures::executor::block_on(async {
        keys.create_key(&name("foreign")).await.unwrap();
        assert!(keys.describe_key(&name("foreign")).await.is_ok());
    });
}

#[test]
fn a_handle_is_send_sync_and_cheap_to_clone() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<Keys>();
    shared::<kesrs_core::BlockingKeys>();
    let keys = Keys::in_memory().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let keys = keys.blocking();
            std::thread::spawn(move || {
                let key = name(&format!("thread-{i}"));
                keys.create_key(&key).unwrap();
                for _ in 0..100 {
                    let dek = keys.generate_key(&key, b"").unwrap();
                    let plaintext = keys.decrypt(&key, dek.ciphertext(), b"").unwrap();
                    assert_eq!(&plaintext[..], dek.plaintext());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// A forked child: a handle from the parent fails at once with `Forked`; a handle opened in the child
/// works (on a runtime of its own). Neither hangs.
#[test]
fn fork_fails_fast_with_an_old_handle_and_works_with_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::from_fs(dir.path()).unwrap();
    round_trip(&keys, "before-fork");

    // SAFETY: the child only calls kesrs (which must cope with a fork: that is the test) and
    // async-signal-safe functions to exit; it never returns into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child(&keys, dir.path());
        // SAFETY: ends the child at once, without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: the child is ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed");
    // The parent's handle still works after the fork.
    round_trip(&keys, "after-fork");
}

/// The child's checks; its exit code says which failed.
fn child(inherited: &Keys, dir: &std::path::Path) -> i32 {
    let started = Instant::now();
    match inherited.blocking().describe_key(&name("before-fork")) {
        Err(Error::Forked) => {}
        _ => return 10,
    }
    match futures::executor::block_on(inherited.describe_key(&name("before-fork"))) {
        Err(Error::Forked) => {}
        _ => return 11,
    }
    if started.elapsed() > Duration::from_secs(1) {
        return 12;
    }
    let Ok(fresh) = Keys::from_fs(dir) else {
        return 13;
    };
    let fresh = fresh.blocking();
    let Ok(dek) = fresh.generate_key(&name("before-fork"), b"ctx") else {
        return 14;
    };
    match fresh.decrypt(&name("before-fork"), dek.ciphertext(), b"ctx") {
        Ok(plaintext) if plaintext[..] == dek.plaintext()[..] => 0,
        _ => 15,
    }
}
