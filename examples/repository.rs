//! A repository trait, the everyday shape of a Rust service, with its reads cached and
//! its writes locked in Redis: `#[cached]` and `#[lock]` on the methods of a trait
//! `impl`, under `#[cachify::companions]` (which gives `repo.find_reset(id)`).
//!
//! The database is simulated by a table in memory that counts its reads; the cache and
//! the locks are cachify's, shared by every process using the same Redis.
//!
//! Run against any Redis (or Valkey, DragonflyDB):
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example repository`.
//! Without `REDIS_URL` it runs on cachify's in-memory backend.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use cachify::{cached, lock, Cachify};
use serde::{Deserialize, Serialize};

/// How long a cached user lives, in seconds.
const USER_TTL_SECS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
}

/// What the repository can fail with.
#[derive(Debug)]
enum RepoError {
    NotFound(u32),
    /// The lock of a write could not be taken (held too long elsewhere, Redis down).
    Cachify(cachify::Error),
}

impl std::fmt::Display for RepoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepoError::NotFound(id) => write!(f, "no user {id}"),
            RepoError::Cachify(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RepoError {}

impl From<cachify::Error> for RepoError {
    fn from(error: cachify::Error) -> Self {
        RepoError::Cachify(error)
    }
}

/// The alias a service spells its results with: `#[cached]` still sees a `Result` and
/// never stores an `Err`.
type RepoResult<T> = Result<T, RepoError>;

trait UserRepo {
    async fn find(&self, id: u32) -> RepoResult<User>;
    async fn rename(&self, id: u32, name: String) -> RepoResult<User>;
}

/// The users table, counting how often it is read.
#[derive(Default)]
struct CachedUserRepo {
    table: Mutex<HashMap<u32, String>>,
    reads: AtomicUsize,
}

impl CachedUserRepo {
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[cachify::companions]
impl UserRepo for CachedUserRepo {
    /// One database read per user per `USER_TTL_SECS`, across every process.
    #[cached("user-{id}", ttl = USER_TTL_SECS)]
    async fn find(&self, id: u32) -> RepoResult<User> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let name = table.get(&id).ok_or(RepoError::NotFound(id))?;
        Ok(User {
            id,
            name: name.clone(),
        })
    }

    /// One write per user at a time, across every process; waits up to 2.5 s for a
    /// running one; the lock lives 10 s at most if this process dies mid-write.
    #[lock("user-write-{id}", nowait = false, timeout = 2.5, exp = 10)]
    async fn rename(&self, id: u32, name: String) -> RepoResult<User> {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, name.clone());
        tokio::task::yield_now().await; // ... the rest of a real write ...
        self.find_reset(id).await?; // the next read sees the new name
        Ok(User { id, name })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let builder = Cachify::builder().prefix("REPOSITORY-");
    match std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        Some(url) => {
            println!("cache and locks on Redis");
            builder.redis(&url)?.init();
        }
        None => {
            println!("cache and locks in memory (set REDIS_URL for Redis)");
            builder.init();
        }
    };

    let repo = CachedUserRepo::default();
    repo.table.lock().unwrap().insert(1, "Alice".into());
    // Start from a clean cache, whatever an earlier run left in Redis.
    repo.find_reset(1).await?;
    repo.find_reset(404).await?;

    let user = repo.find(1).await?;
    println!("find(1) = {} (database reads: {})", user.name, repo.reads());
    let user = repo.find(1).await?;
    println!(
        "find(1) again = {} (database reads: {})",
        user.name,
        repo.reads()
    );

    let missing = repo.find(404).await;
    let again = repo.find(404).await;
    println!(
        "find(404) = {missing:?} then {again:?}: errors are not cached (database reads: {})",
        repo.reads()
    );

    let (a, b) = tokio::join!(
        repo.rename(1, "Alicia".into()),
        repo.rename(1, "Alison".into())
    );
    println!(
        "two concurrent renames ran one at a time: {} and {}",
        a?.name, b?.name
    );
    println!(
        "write lock held now: {}",
        repo.rename_is_locked(1, String::new()).await?
    );
    let user = repo.find(1).await?;
    println!(
        "after the renames: {} (database reads: {})",
        user.name,
        repo.reads()
    );
    Ok(())
}
