//! The global instance: absent until initialised, replaced by a second init.
//! (Its own test binary: the global is per process, so these run in one test.)

use cachify::{Cachify, Error};

#[test]
fn the_global_instance_lifecycle() {
    assert!(matches!(Cachify::global(), Err(Error::NotInitialized)));
    assert!(matches!(
        Cachify::with_global(|_| ()),
        Err(Error::NotInitialized)
    ));

    let first = cachify::init_cachify();
    assert!(Cachify::global().unwrap().same_instance(&first));
    assert_eq!(first.prefix(), "CACHIFY-");

    let second = Cachify::builder().prefix("SECOND-").init();
    assert!(!second.same_instance(&first));
    assert_eq!(Cachify::global().unwrap().prefix(), "SECOND-");

    let independent = Cachify::builder().prefix("LOCAL-").build();
    assert_eq!(
        Cachify::global().unwrap().prefix(),
        "SECOND-",
        "build() leaves the global alone"
    );
    assert_eq!(independent.prefix(), "LOCAL-");
}
