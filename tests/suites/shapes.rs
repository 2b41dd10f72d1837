// Over 500 lines: a suite run on every backend, one module per behaviour; splitting it would add test binaries (link time) or scatter one subject.
// The function shapes of everyday services, on `backend()`: tuple fields and positional
// keys, durations from constants and floats, `Result` behind an alias, associated
// functions, trait impls under `#[cachify::companions]`, and long jobs that keep their
// lock with `auto_extend`. Included by the `cached_*` binaries after `suites/cached.rs`.

mod shapes {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{mpsc, LazyLock};
    use std::time::Duration;

    use cachify::{cached, lock, once, pooled, Cachify, Error};

    use super::backend;

    /// An application error (serde-ready, so storing an `Err` would compile) and the
    /// alias a service spells its results with.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    pub enum AppError {
        NotFound,
        Cachify(String),
    }

    impl From<Error> for AppError {
        fn from(error: Error) -> Self {
            AppError::Cachify(error.to_string())
        }
    }

    type Outcome<T> = Result<T, AppError>;

    mod keys {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-keys"));
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        pub struct UserId(pub u32);

        impl UserId {
            #[cached("user-{self.0}", cachify = C)]
            pub fn name(&self) -> String {
                CALLS.fetch_add(1, SeqCst);
                format!("user {}", self.0)
            }
        }

        #[cached("pair-{pair.1}", cachify = C)]
        fn second(pair: (u32, u32)) -> u32 {
            CALLS.fetch_add(1, SeqCst);
            pair.1
        }

        #[test]
        fn tuple_fields_and_positional_keys_render_and_cache() {
            assert_eq!(UserId(4).name(), "user 4");
            assert_eq!(UserId(4).name(), "user 4");
            assert_eq!(second((9, 5)), 5);
            assert_eq!(second((1, 5)), 5, "same key: only the second field counts");
            assert_eq!(CALLS.load(SeqCst), 2);
            assert!(C.sync_client().get(&C.cache_key("user-4")).unwrap().is_some());
            assert!(C.sync_client().get(&C.cache_key("pair-5")).unwrap().is_some());
            UserId(4).name_reset().unwrap();
            assert_eq!(UserId(4).name(), "user 4");
            assert_eq!(CALLS.load(SeqCst), 3);
        }
    }

    mod durations {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-durations"));
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        const TTL_SECS: u64 = 300;
        const SHORT: f64 = 0.3;

        #[cached("long", cachify = C, ttl = TTL_SECS)]
        fn long() -> u8 {
            1
        }

        #[cached("short", cachify = C, ttl = SHORT)]
        async fn short() -> u8 {
            CALLS.fetch_add(1, SeqCst);
            1
        }

        #[tokio::test]
        async fn integer_constants_and_floats_are_seconds() {
            long();
            let left = C.sync_client().remaining_ttl(&C.cache_key("long")).unwrap().expect("a ttl");
            assert!(left > Duration::from_secs(200) && left <= Duration::from_secs(300));
            short().await;
            short().await;
            assert_eq!(CALLS.load(SeqCst), 1);
            tokio::time::sleep(Duration::from_millis(900)).await; // past the 0.3 s ttl
            short().await;
            assert_eq!(CALLS.load(SeqCst), 2, "the float ttl expired the entry");
        }
    }

    mod result_alias {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-alias"));
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        #[cached("find-{id}", cachify = C)]
        async fn find(id: u32) -> Outcome<u32> {
            CALLS.fetch_add(1, SeqCst);
            if id == 0 {
                Err(AppError::NotFound)
            } else {
                Ok(id)
            }
        }

        #[tokio::test]
        async fn an_err_behind_an_alias_is_never_stored() {
            assert_eq!(find(0).await, Err(AppError::NotFound));
            assert_eq!(find(0).await, Err(AppError::NotFound));
            assert_eq!(CALLS.load(SeqCst), 2, "the Err was not cached");
            assert_eq!(find(3).await, Ok(3));
            assert_eq!(find(3).await, Ok(3));
            assert_eq!(CALLS.load(SeqCst), 3, "the Ok was");
        }

        #[lock("alias-lock", cachify = C)]
        fn locked() -> Outcome<u8> {
            Ok(1)
        }

        #[test]
        fn a_refused_lock_is_the_aliased_error() {
            let _held = C.lock("alias-lock").acquire().unwrap();
            assert!(matches!(locked(), Err(AppError::Cachify(_))));
        }
    }

    mod associated {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-assoc"));
        static CALLS: AtomicUsize = AtomicUsize::new(0);

        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        pub struct Account {
            id: u32,
        }

        #[cachify::companions]
        impl Account {
            #[cached("account-{id}", cachify = C)]
            fn load(id: u32) -> Account {
                CALLS.fetch_add(1, SeqCst);
                Account { id }
            }
        }

        #[test]
        fn associated_functions_get_associated_companions() {
            assert_eq!(Account::load(5).id, 5);
            assert_eq!(Account::load(5).id, 5);
            assert_eq!(CALLS.load(SeqCst), 1);
            Account::load_reset(5).unwrap();
            assert_eq!(Account::load(5).id, 5);
            assert_eq!(CALLS.load(SeqCst), 2);
        }
    }

    mod trait_impls {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-traits"));
        static FINDS: AtomicUsize = AtomicUsize::new(0);

        trait UserRepo {
            async fn find(&self, id: u32) -> Outcome<String>;
            fn rename(&self, id: u32, sender: &mpsc::Sender<()>, go: &mpsc::Receiver<()>)
                -> Outcome<()>;
            fn export(&self, id: u32, sender: &mpsc::Sender<()>, go: &mpsc::Receiver<()>) -> u32;
        }

        pub struct Repo;

        #[cachify::companions]
        impl UserRepo for Repo {
            #[cached("find-{id}", cachify = C)]
            async fn find(&self, id: u32) -> Outcome<String> {
                FINDS.fetch_add(1, SeqCst);
                Ok(format!("user {id}"))
            }

            #[lock("rename-{id}", cachify = C)]
            fn rename(
                &self,
                id: u32,
                entered: &mpsc::Sender<()>,
                go: &mpsc::Receiver<()>,
            ) -> Outcome<()> {
                let _ = id;
                entered.send(()).unwrap();
                go.recv().unwrap();
                Ok(())
            }

            #[pooled("export-{id}", max_size = 2, cachify = C)]
            fn export(
                &self,
                id: u32,
                entered: &mpsc::Sender<()>,
                go: &mpsc::Receiver<()>,
            ) -> u32 {
                entered.send(()).unwrap();
                go.recv().unwrap();
                id
            }
        }

        #[test]
        fn pooled_trait_methods_count_their_slots() {
            let (entered_tx, entered) = mpsc::channel();
            let (go, go_rx) = mpsc::channel();
            let holder = std::thread::spawn(move || Repo.export(3, &entered_tx, &go_rx));
            entered.recv().unwrap();
            let (probe_tx, _) = mpsc::channel();
            let (_, probe_rx) = mpsc::channel();
            assert_eq!(Repo.export_size(3, &probe_tx, &probe_rx).unwrap(), 1);
            go.send(()).unwrap();
            assert_eq!(holder.join().unwrap(), 3);
            assert_eq!(Repo.export_size(3, &probe_tx, &probe_rx).unwrap(), 0);
        }

        #[tokio::test]
        async fn cached_trait_methods_cache_and_reset() {
            let repo = Repo;
            assert_eq!(repo.find(1).await.unwrap(), "user 1");
            assert_eq!(repo.find(1).await.unwrap(), "user 1");
            assert_eq!(FINDS.load(SeqCst), 1);
            repo.find_reset(1).await.unwrap();
            repo.find(1).await.unwrap();
            assert_eq!(FINDS.load(SeqCst), 2);
        }

        #[test]
        fn locked_trait_methods_lock() {
            let (entered_tx, entered) = mpsc::channel();
            let (go, go_rx) = mpsc::channel();
            let holder = std::thread::spawn(move || Repo.rename(9, &entered_tx, &go_rx));
            entered.recv().unwrap();
            let (tx, _rx) = mpsc::channel();
            let (_go2, rx2) = mpsc::channel();
            assert!(matches!(Repo.rename(9, &tx, &rx2), Err(AppError::Cachify(_))));
            let (probe_tx, _) = mpsc::channel();
            let (_, probe_rx) = mpsc::channel();
            assert!(Repo.rename_is_locked(9, &probe_tx, &probe_rx).unwrap());
            go.send(()).unwrap();
            holder.join().unwrap().unwrap();
            assert!(!Repo.rename_is_locked(9, &probe_tx, &probe_rx).unwrap());
        }
    }

    mod long_jobs {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-long"));
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        /// Renewed every third of it: a loaded machine may stall a renewal for a while.
        const EXP: f64 = 1.0;
        /// Long enough past `EXP` for an un-extended key to have expired.
        const PAST_EXP: Duration = Duration::from_millis(2500);

        #[once("extended-{n}", cachify = C, exp = EXP, auto_extend = true)]
        fn extended(n: u8, entered: &mpsc::Sender<()>, go: &mpsc::Receiver<()>) -> u8 {
            RUNS.fetch_add(1, SeqCst);
            entered.send(()).unwrap();
            go.recv().unwrap();
            n
        }

        #[once("expiring-{n}", cachify = C, exp = EXP)]
        fn expiring(n: u8, entered: &mpsc::Sender<()>, go: &mpsc::Receiver<()>) -> u8 {
            entered.send(()).unwrap();
            go.recv().unwrap();
            n
        }

        #[lock("lock-extended", cachify = C, exp = EXP, auto_extend = true)]
        fn lock_extended(entered: &mpsc::Sender<()>, go: &mpsc::Receiver<()>) -> Outcome<()> {
            entered.send(()).unwrap();
            go.recv().unwrap();
            Ok(())
        }

        /// Runs `job` on a thread until it signals it entered; returns its handle and the
        /// sender that lets it finish.
        fn start<R: Send + 'static>(
            job: impl FnOnce(&mpsc::Sender<()>, &mpsc::Receiver<()>) -> R + Send + 'static,
        ) -> (std::thread::JoinHandle<R>, mpsc::Sender<()>) {
            let (entered_tx, entered) = mpsc::channel();
            let (go, go_rx) = mpsc::channel();
            let handle = std::thread::spawn(move || job(&entered_tx, &go_rx));
            entered.recv().unwrap();
            (handle, go)
        }

        fn idle() -> (mpsc::Sender<()>, mpsc::Receiver<()>) {
            let (tx, rx) = mpsc::channel();
            let (go, _) = mpsc::channel::<()>();
            drop(go);
            (tx, rx)
        }

        #[test]
        fn once_with_auto_extend_keeps_its_key_past_exp() {
            let (job, go) = start(|entered, go| extended(1, entered, go));
            std::thread::sleep(PAST_EXP);
            let (tx, rx) = idle();
            assert_eq!(extended(1, &tx, &rx), 0, "still running: skipped");
            assert_eq!(RUNS.load(SeqCst), 1);
            go.send(()).unwrap();
            assert_eq!(job.join().unwrap(), 1);
        }

        #[test]
        fn once_exp_frees_the_key_of_a_job_that_outlives_it() {
            let (job, go) = start(|entered, go| expiring(2, entered, go));
            std::thread::sleep(PAST_EXP);
            let (second, go_second) = start(|entered, go| expiring(2, entered, go));
            go_second.send(()).unwrap();
            assert_eq!(second.join().unwrap(), 2, "the key expired after exp: a second run");
            go.send(()).unwrap();
            assert_eq!(job.join().unwrap(), 2);
        }

        #[test]
        fn lock_with_auto_extend_keeps_its_key_past_exp() {
            let (job, go) = start(lock_extended);
            std::thread::sleep(PAST_EXP);
            let (tx, rx) = idle();
            assert!(lock_extended_is_locked_now(&tx, &rx));
            go.send(()).unwrap();
            job.join().unwrap().unwrap();
        }

        fn lock_extended_is_locked_now(tx: &mpsc::Sender<()>, rx: &mpsc::Receiver<()>) -> bool {
            lock_extended::is_locked(tx, rx).unwrap()
        }
    }

    mod pools {
        use super::*;
        static C: LazyLock<Cachify> = LazyLock::new(|| backend().instance("shapes-pools"));
        const SLOT_EXP: Duration = Duration::from_secs(60);

        #[pooled("api-{id}", max_size = 1, slot_exp = SLOT_EXP, cachify = C)]
        fn api(id: u32) -> Outcome<u32> {
            Ok(id)
        }

        #[test]
        fn a_full_pool_skips_a_result_behind_an_alias_with_ok_default() {
            assert_eq!(api(3), Ok(3));
            let _held = C.pool("api-3", 1).acquire().unwrap();
            assert_eq!(api(3), Ok(0), "full: skipped with Ok(Default::default())");
            assert_eq!(api::size(3).unwrap(), 1);
        }
    }
}

/// The attributes in hostile scopes: each module shadows prelude names, or names the
/// expansion uses itself (`__cachify_key`...), or has no prelude at all; generic and
/// lifetime impls under `#[cachify::companions]`.
#[allow(dead_code, non_snake_case, unused, clippy::all)]
mod hostile_scopes {
    use std::sync::LazyLock;
    static C: LazyLock<cachify::Cachify> =
        LazyLock::new(|| super::backend().instance("hostile-scopes"));

    mod shadow_result_alias {
        use super::C;
        type Result<T> = std::result::Result<T, std::io::Error>;
        #[cachify::cached(key = "r-{x}", cachify = C)]
        pub fn f(x: u32) -> Result<u32> {
            Ok(x)
        }
        #[cachify::lock(key = "rl-{x}", cachify = C)]
        fn g(x: u32) -> std::result::Result<u32, cachify::Error> {
            std::result::Result::Ok(x)
        }
        #[cachify::once(key = "ro-{x}", cachify = C)]
        fn h(x: u32) -> u32 {
            x
        }
        #[cachify::pooled(key = "rp-{x}", max_size = 2, cachify = C)]
        fn p(x: u32) -> u32 {
            x
        }
    }

    mod shadow_ok_fn {
        use super::C;
        fn Ok() {}
        fn Some() {}
        fn Err() {}
        #[cachify::cached(key = "o-{x}", cachify = C)]
        fn f(x: u32) -> u32 {
            x
        }
        #[cachify::lock(key = "ol-{x}", cachify = C)]
        async fn g(x: u32) -> Result<u32, cachify::Error> {
            Result::Ok(x)
        }
        #[cachify::once(key = "oo-{x}", cachify = C)]
        fn h(x: u32) -> u32 {
            x
        }
        #[cachify::pooled(key = "op-{x}", max_size = 2, cachify = C)]
        async fn p(x: u32) -> u32 {
            x
        }
    }

    mod shadow_option_struct {
        use super::C;
        struct Option;
        struct Vec;
        struct String;
        struct Box;
        #[cachify::cached(key = "s-{x}", cachify = C)]
        fn f(x: u32) -> u32 {
            x
        }
        #[cachify::lock(key = "sl-{x}", cachify = C)]
        fn g(x: u32) -> Result<u32, cachify::Error> {
            Ok(x)
        }
        #[cachify::once(key = "so-{x}", cachify = C)]
        async fn h(x: u32) -> u32 {
            x
        }
        #[cachify::pooled(key = "sp-{x}", max_size = 2, cachify = C)]
        fn p(x: u32) -> u32 {
            x
        }
    }

    mod user_names_like_ours {
        use super::C;
        #[cachify::cached(key = "u-{__cachify_key}", cachify = C)]
        fn f(__cachify_key: u32, __cachify_instance: u32, cachify: u32) -> u32 {
            __cachify_key + __cachify_instance + cachify
        }
        #[cachify::lock(key = "ul-{__cachify_guard}", cachify = C)]
        fn g(__cachify_guard: u32, __cachify_lock: u32) -> Result<u32, cachify::Error> {
            Ok(__cachify_guard)
        }
        #[cachify::once(key = "uo-{__cachify_guard}", cachify = C)]
        async fn h(__cachify_guard: u32) -> u32 {
            __cachify_guard
        }
        #[cachify::pooled(key = "up-{__cachify_slot}", max_size = 2, cachify = C)]
        async fn p(__cachify_slot: u32, __cachify_pool: u32) -> u32 {
            __cachify_slot
        }
    }

    mod shapes {
        use super::C;
        #[cachify::cached(key = "g-{x}", cachify = C)]
        fn generic<
            T: serde::Serialize
                + serde::de::DeserializeOwned
                + std::fmt::Display
                + Clone
                + Send
                + Sync
                + 'static,
        >(
            x: T,
        ) -> Vec<T> {
            vec![x]
        }
        #[cachify::cached(key = "l-{x}", cachify = C)]
        fn lifetimes<'a>(x: &'a str) -> String {
            x.to_owned()
        }
        #[cachify::cached(key = "i-{x}", cachify = C)]
        fn impl_arg(x: impl std::fmt::Display) -> String {
            x.to_string()
        }
        #[cachify::cached(key = "m-{x}", cachify = C)]
        fn mut_arg(mut x: u32) -> u32 {
            x += 1;
            x
        }
        #[cachify::lock(key = "ml-{x}", cachify = C)]
        async fn mut_arg_async(mut x: u32) -> Result<u32, cachify::Error> {
            x += 1;
            Ok(x)
        }
    }

    mod no_prelude {
        #![no_implicit_prelude]
        #[::cachify::cached(key = "np-{x}", cachify = super::C)]
        fn f(x: u32) -> u32 {
            x
        }
        #[::cachify::lock(key = "npl-{x}", cachify = super::C)]
        fn g(x: u32) -> ::std::result::Result<u32, ::cachify::Error> {
            ::std::result::Result::Ok(x)
        }
        #[::cachify::once(key = "npo-{x}", cachify = super::C)]
        fn h(x: u32) -> u32 {
            x
        }
        #[::cachify::pooled(key = "npp-{x}", max_size = 2, cachify = super::C)]
        fn p(x: u32) -> u32 {
            x
        }
    }

    #[test]
    fn attributes_compile_where_prelude_names_and_their_own_names_are_shadowed() {
        assert_eq!(shadow_result_alias::f(1).unwrap(), 1);
    }

    /// Generic stored types without a `'static` bound: their hits decode the bytes (the
    /// kept decoded copy needs `'static`, which the compiler cannot fall back on).
    mod generic_without_static {
        use serde::{de::DeserializeOwned, Serialize};

        pub trait Row: Serialize + DeserializeOwned + Clone + Send + Sync + Default {}
        impl Row for u32 {}

        #[cachify::cached(key = "gen-{x}", cachify = super::C)]
        pub fn rows<T: Row>(x: u8) -> Vec<T> {
            vec![T::default(); usize::from(x)]
        }

        pub struct Table<T>(pub std::marker::PhantomData<T>);

        #[cachify::companions]
        impl<T: Row> Table<T> {
            #[cachify::cached(key = "table-{x}", cachify = super::C)]
            pub fn all(&self, x: u8) -> Vec<T> {
                vec![T::default(); usize::from(x)]
            }
        }

        pub struct Named<Item>(pub std::marker::PhantomData<Item>);

        #[cachify::companions]
        impl<Item: Row> Named<Item> {
            #[cachify::cached(key = "named-{x}", cachify = super::C)]
            pub fn all(&self, x: u8) -> Vec<Item> {
                vec![Item::default(); usize::from(x)]
            }
        }

        pub struct Bare<T>(pub std::marker::PhantomData<T>);

        impl<T: Row> Bare<T> {
            #[cachify::cached(key = "bare-{x}", cachify = super::C)]
            pub fn all(&self, x: u8) -> Vec<T> {
                vec![T::default(); usize::from(x)]
            }

            #[cachify::cached(key = "made-{x}", cachify = super::C)]
            pub fn made(x: u8) -> Option<Self> {
                (x > 0).then_some(Self(std::marker::PhantomData))
            }
        }

        impl<T> serde::Serialize for Bare<T> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u8(0)
            }
        }
        impl<'de, T> serde::Deserialize<'de> for Bare<T> {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                u8::deserialize(deserializer).map(|_| Self(std::marker::PhantomData))
            }
        }
    }

    #[test]
    fn generic_stored_types_without_static_compile_and_hit() {
        use generic_without_static::{rows, Bare, Named, Table};
        for _ in 0..2 {
            assert_eq!(rows::<u32>(2), vec![0, 0]);
            assert_eq!(Table::<u32>(std::marker::PhantomData).all(3), vec![0, 0, 0]);
            assert_eq!(Bare::<u32>(std::marker::PhantomData).all(1), vec![0]);
            assert_eq!(Named::<u32>(std::marker::PhantomData).all(2), vec![0, 0]);
            assert!(Bare::<u32>::made(1).is_some());
        }
    }

    mod companions_generic {
        pub trait Repo {
            fn get(&self, id: u32) -> u32;
            fn put(&self, id: u32) -> Result<u32, cachify::Error>;
        }
        pub struct Pg<T>(pub T);
        #[cachify::companions]
        impl<T> Repo for Pg<T>
        where
            T: Send + Sync + 'static,
        {
            #[cachify::cached(key = "pg-{id}", cachify = super::C)]
            fn get(&self, id: u32) -> u32 {
                id
            }
            #[cachify::lock(key = "pgl-{id}", cachify = super::C)]
            fn put(&self, id: u32) -> Result<u32, cachify::Error> {
                Ok(id)
            }
        }
        pub struct Borrowed<'a>(pub &'a str);
        #[cachify::companions]
        impl<'a> Repo for Borrowed<'a> {
            #[cachify::cached(key = "b-{id}-{self.0}", cachify = super::C)]
            fn get(&self, id: u32) -> u32 {
                id
            }
            #[cachify::lock(key = "bl-{id}", cachify = super::C)]
            fn put(&self, id: u32) -> Result<u32, cachify::Error> {
                Ok(id)
            }
        }
        pub fn use_them(p: &Pg<u8>, b: &Borrowed<'_>) {
            p.get_reset(1);
            let _ = p.put_is_locked(1);
            b.get_reset(1);
        }
    }
}
