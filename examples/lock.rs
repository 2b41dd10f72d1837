//! Locks: the lock object (sync and async), waiting with a timeout, forced release, and
//! `#[lock]` on a function.
//!
//! Run with `cargo run --example lock`.

use std::time::Duration;

use cachify::{lock, Error};

/// One transfer per account at a time, wherever it runs; a second concurrent transfer
/// waits up to 5 s for the first.
#[lock(key = "transfer-{account}", nowait = false, timeout = 5)]
async fn transfer(account: u32, amount: u64) -> Result<u64, Error> {
    tokio::time::sleep(Duration::from_millis(200)).await; // talk to the bank...
    Ok(amount)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    cachify::init_cachify();

    // The lock object, sync: held until the guard goes out of scope.
    {
        let _guard = cachify::lock("nightly-import").acquire()?;
        println!("importing under the lock");
        let busy = cachify::lock("nightly-import").acquire();
        println!("a second import: {}", busy.unwrap_err());
    }

    // Async, waiting for the holder with a timeout.
    let report = cachify::lock("report").exp(Duration::from_secs(60));
    let holder = report.acquire_async().await?;
    let waiter = {
        let report = report.clone().nowait(false).timeout(Duration::from_secs(5));
        tokio::spawn(async move {
            let guard = report.acquire_async().await?;
            println!("the waiter got the lock as soon as it was released");
            guard.release_async().await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await; // some work
    holder.release_async().await?;
    waiter.await.expect("waiter panicked")?;

    // A forced release unsticks a lock whose holder is gone.
    let _abandoned = cachify::lock("stuck").acquire_async().await?;
    cachify::lock("stuck").release_async().await?;
    println!(
        "stuck is locked: {}",
        cachify::lock("stuck").is_locked_async().await?
    );

    // #[lock]: two transfers on one account run one after the other.
    let (first, second) = tokio::join!(transfer(7, 100), transfer(7, 50));
    println!("transfers: {first:?} {second:?}");
    println!("transfer 7 is locked: {}", transfer::is_locked(7, 0).await?);
    Ok(())
}
