//! Review: the attributes in hostile scopes. Each module shadows one prelude name.
#![allow(dead_code, non_snake_case, unused)]

use std::sync::LazyLock;
static C: LazyLock<cachify::Cachify> = LazyLock::new(|| cachify::Cachify::builder().build());

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
    ) -> T {
        x
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
fn hostile_scopes_compile_and_cache() {
    assert_eq!(shadow_result_alias::f(1).unwrap(), 1);
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
