//! The global instance: absent until initialised, replaced (with a warning) by a second
//! init, never replaced by `try_init`. (Its own test binary: the global is per process,
//! so these run in one test.)

use std::sync::{Arc, Mutex};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

use cachify::{cached, BackendError, Cachify, Error, SyncClient};

mod support;
use support::logs::logs_of;

/// A map-backed client that says when it is dropped, standing for one whose connections
/// must close when its instance is gone.
#[derive(Default)]
struct Tracked {
    map: Mutex<HashMap<String, Vec<u8>>>,
    dropped: Arc<AtomicBool>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.store(true, SeqCst);
    }
}

impl SyncClient for Tracked {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.map.lock().unwrap().get(key).cloned())
    }
    fn set(
        &self,
        key: &str,
        value: &[u8],
        _: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let mut map = self.map.lock().unwrap();
        if nx && map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_owned(), value.to_vec());
        Ok(true)
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        let mut map = self.map.lock().unwrap();
        Ok(keys
            .iter()
            .filter(|key| map.remove(**key).is_some())
            .count() as u64)
    }
}

#[cached(key = "answer")]
fn answer() -> u32 {
    42
}

#[test]
fn the_global_instance_lifecycle() {
    assert!(matches!(Cachify::global(), Err(Error::NotInitialized)));
    assert!(matches!(
        Cachify::with_global(|_| ()),
        Err(Error::NotInitialized)
    ));

    let (first, logs) = logs_of(cachify::init_cachify);
    assert!(Cachify::global().unwrap().same_instance(&first));
    assert_eq!(first.prefix(), "CACHIFY-");
    assert!(!logs.contains("WARN"), "a first init is quiet: {logs}");

    let ((), refused) = logs_of(|| {
        let err = Cachify::builder()
            .prefix("REFUSED-")
            .try_init()
            .unwrap_err();
        assert!(matches!(err, Error::AlreadyInitialized), "{err:?}");
        assert!(matches!(
            cachify::try_init_cachify(),
            Err(Error::AlreadyInitialized)
        ));
    });
    assert!(
        Cachify::global().unwrap().same_instance(&first),
        "try_init leaves the global alone"
    );
    assert!(!refused.contains("WARN"), "{refused}");

    let (second, logs) = logs_of(|| Cachify::builder().prefix("SECOND-").init());
    assert!(!second.same_instance(&first));
    assert_eq!(Cachify::global().unwrap().prefix(), "SECOND-");
    assert!(
        logs.contains("WARN") && logs.contains("replaced"),
        "replacing the global is logged: {logs}"
    );

    let independent = Cachify::builder().prefix("LOCAL-").build();
    assert_eq!(
        Cachify::global().unwrap().prefix(),
        "SECOND-",
        "build() leaves the global alone"
    );
    assert_eq!(independent.prefix(), "LOCAL-");

    // A thread that used the global and then sits idle keeps its copy of a replaced
    // global until its next use (design-notes.md: taking copies back from idle threads
    // would cost every hit a lock); that next use drops it.
    let tracked = Tracked::default();
    let dropped = Arc::clone(&tracked.dropped);
    drop(
        Cachify::builder()
            .prefix("TRACKED-")
            .sync_client(tracked)
            .init(),
    );
    let (used_tx, used) = mpsc::channel();
    let (again_tx, again) = mpsc::channel::<()>();
    let idle_thread = std::thread::spawn(move || {
        used_tx.send(answer()).unwrap();
        again.recv().unwrap();
        used_tx.send(answer()).unwrap();
    });
    assert_eq!(used.recv().unwrap(), 42);
    assert!(!dropped.load(SeqCst), "the global is in use");
    cachify::init_cachify();
    again_tx.send(()).unwrap();
    assert_eq!(used.recv().unwrap(), 42);
    assert!(
        dropped.load(SeqCst),
        "the idle thread's next use dropped its copy of the replaced global"
    );
    idle_thread.join().unwrap();
}
