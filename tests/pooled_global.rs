//! `#[pooled]` on the global instance, before and after `init_cachify()`. In a binary of
//! its own because the global is per process.

use cachify::{pooled, Error};

#[pooled(key = "global-{n}", max_size = 2)]
fn plain(n: u8) -> u8 {
    n
}

#[pooled(key = "global-r", max_size = 2)]
async fn fallible() -> Result<u8, Error> {
    Ok(5)
}

#[tokio::test]
async fn pooled_functions_use_the_global_instance_once_initialised() {
    assert!(matches!(fallible().await, Err(Error::NotInitialized)));
    assert!(matches!(plain::size(1), Err(Error::NotInitialized)));
    let panic = std::thread::spawn(|| plain(1)).join().unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("cachify::init_cachify()"), "{message}");

    cachify::init_cachify();
    assert_eq!(plain(1), 1);
    assert_eq!(fallible().await.unwrap(), 5);
    let _held = cachify::pool("global-1", 2).acquire().unwrap();
    assert_eq!(plain::size(1).unwrap(), 1);
}
