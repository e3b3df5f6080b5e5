//! argon2id password hashing on PHC strings, with the OWASP parameters (19 MiB, 2 passes,
//! 1 lane). Hashing costs tens of milliseconds of CPU, so the async functions run it on a small
//! pool of hashing threads, never on the executor threads that serve FTP sessions.

use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{Error, Result};

/// Shortest password the policy accepts.
const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted, so a huge PASS line cannot make hashing expensive.
const MAX_PASSWORD_LEN: usize = 256;

fn hasher() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
    let params = Params::new(19_456, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the password policy.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the rule that is broken.
pub fn check_policy(password: &str) -> Result<()> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(Error::InvalidInput(format!(
            "password too short: use at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(Error::InvalidInput(format!(
            "password too long: use at most {MAX_PASSWORD_LEN} characters"
        )));
    }
    if password.chars().any(char::is_control) {
        return Err(Error::InvalidInput("password must not contain control characters".into()));
    }
    Ok(())
}

/// Hashes `password` into a PHC string, synchronously.
///
/// # Errors
///
/// [`Error::PasswordHash`] if argon2 fails (it does not for valid parameters).
fn hash_blocking(password: &str) -> Result<String> {
    use argon2::password_hash::phc::{ParamsString, Salt};
    let failed = |e: &dyn std::fmt::Display| Error::PasswordHash(e.to_string());
    let argon = hasher();
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    rand::Rng::fill(&mut rand::rng(), &mut salt[..]);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(argon.params().block_count(), |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Largest argon2 memory cost a stored hash may ask for (256 MiB): hashes come from our own
/// database, but a damaged or hand-edited row must not make a login allocate without bound.
const MAX_M_COST_KIB: u32 = 256 << 10;

/// Runs `f` on argon2 working memory of `blocks` KiB blocks: the memory a finished hash left
/// behind ([`Spare`]) when there is one, else a fresh reservation.
///
/// The reservation is larger than glibc's largest mmap threshold (32 MiB on 64-bit): a request
/// that big is always served by a mapping of its own and unmapped when freed. A 19 MiB block
/// allocated the usual way ends up in the allocator's per-thread arena after the first free
/// raises the threshold, and stays there: each hashing thread then held a hash's worth of memory
/// for good, which was most of an idle daemon's memory (bench/ W7). Only the blocks used are
/// touched; the rest of the reservation is address space, not memory.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    const RESERVE: usize = (32 << 20) / Block::SIZE + 1;
    let on_pool = ON_POOL.get();
    let mut memory = on_pool
        .then(|| Spare::take(blocks))
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(blocks.max(RESERVE)));
    memory.resize(blocks, Block::new());
    let out = f(&mut memory);
    // Only the hashing pool keeps memory (each of its jobs ends in `Spare::used`, which frees
    // it again), and only reservations of the usual size: a hash from a hand-edited row asking
    // for more memory gives it back at once.
    if on_pool && memory.capacity() <= RESERVE {
        Spare::put(memory);
    }
    out
}

thread_local! {
    /// Whether this thread is one of [`pool`]'s hashing threads.
    static ON_POOL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long the working memory of finished hashes is kept for the next login (shorter in unit
/// tests, which wait for it).
const KEEP_SPARE: Duration =
    if cfg!(test) { Duration::from_millis(300) } else { Duration::from_secs(2) };

/// The working memory of finished hashes, kept while logins keep coming and handed back to the
/// system [`KEEP_SPARE`] after the last one.
///
/// Touching a fresh 19 MiB mapping costs one page fault per 4 KiB page, and on this project's
/// bench VM that doubled the time of a hash (91 against 45 ms, measured with the same argon2
/// build): a burst of first logins (bench/ W5) paid it on every hash. Keeping the memory for
/// good instead costs an idle daemon 19 MiB per hashing thread (bench/ W7).
struct Spare {
    buffers: Vec<Vec<Block>>,
    last_use: Instant,
    release_pending: bool,
}

impl Spare {
    fn get() -> std::sync::MutexGuard<'static, Spare> {
        static SPARE: LazyLock<Mutex<Spare>> = LazyLock::new(|| {
            Mutex::new(Spare {
                buffers: Vec::new(),
                last_use: Instant::now(),
                release_pending: false,
            })
        });
        // The lists stay consistent even if a holder panicked: take the lock either way.
        SPARE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(blocks: usize) -> Option<Vec<Block>> {
        let mut spare = Self::get();
        let at = spare.buffers.iter().position(|b| b.capacity() >= blocks)?;
        Some(spare.buffers.swap_remove(at))
    }

    fn put(memory: Vec<Block>) {
        Self::get().buffers.push(memory);
    }

    /// Notes a finished hash and, unless one is already waiting, starts the task that frees
    /// the spare memory once no hash has finished for [`KEEP_SPARE`].
    fn used() {
        let mut spare = Self::get();
        spare.last_use = Instant::now();
        if std::mem::replace(&mut spare.release_pending, true) {
            return;
        }
        drop(spare);
        tokio::spawn(async {
            loop {
                let idle = Self::get().last_use.elapsed();
                if idle < KEEP_SPARE {
                    tokio::time::sleep(KEEP_SPARE - idle).await;
                    continue;
                }
                let mut spare = Self::get();
                if spare.last_use.elapsed() >= KEEP_SPARE {
                    let freed = std::mem::take(&mut spare.buffers);
                    spare.release_pending = false;
                    drop(spare);
                    drop(freed);
                    return;
                }
            }
        });
    }

    #[cfg(test)]
    fn held() -> usize {
        Self::get().buffers.len()
    }
}

/// Verifies `password` against a PHC string, synchronously. A malformed hash never matches.
/// Compares in constant time (`Output`'s equality).
fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let Ok(version) = parsed.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else { return false };
    let hashed = with_memory(blocks, |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
    });
    hashed.is_ok() && Output::new(out).is_ok_and(|got| &got == expected)
}

/// A fixed pool of hashing threads, one per core: more threads than cores would not hash any
/// faster, and at most one hash per core is in memory at a time (19 MiB each, see
/// [`with_memory`]) however many logins arrive at once.
fn pool() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static POOL: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        for i in 0..threads {
            let rx = std::sync::Arc::clone(&rx);
            let _ = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                ON_POOL.set(true);
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        }
        std::sync::Mutex::new(tx)
    })
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on the hashing pool.
async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    pool().lock().ok()?.send(job).ok()?;
    let out = rx.await.ok();
    Spare::used();
    out
}

/// Hashes `password` on the hashing pool.
///
/// # Errors
///
/// [`Error::PasswordHash`] when the hashing threads have stopped (argon2 itself does not fail
/// with our fixed parameters).
pub async fn hash(password: String) -> Result<String> {
    on_pool(move || hash_blocking(&password))
        .await
        .ok_or_else(|| Error::PasswordHash("the hashing threads stopped".into()))?
}

/// Verifies on the blocking pool. With `phc = None` (unknown or disabled user) it verifies
/// against a fixed dummy hash with the same parameters, so the caller takes as long as for a
/// wrong password and timing does not tell which usernames exist. Hashing threads that have
/// stopped (a broken invariant, logged) make every verification fail, like a wrong password.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    on_pool(move || match phc {
        Some(phc) => verify_blocking(&password, &phc),
        None => {
            verify_blocking(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or_else(|| {
        tracing::error!("the password hashing threads stopped: every login fails");
        false
    })
}

/// Computes the dummy hash [`verify`] uses for unknown users now, on the blocking pool, so
/// the first unknown-user login does not pay for it (and stand out by taking twice as long).
pub async fn prewarm() {
    let _ = on_pool(dummy_hash).await;
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking("multiftp-timing-equaliser").expect("hashing a constant never fails")
    })
}

/// Makes a random password for generated accounts (20 characters from an unambiguous
/// alphabet, about 115 bits).
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_phc_and_verifies() {
        let phc = hash_blocking("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking("correct horse", &phc));
        assert!(!verify_blocking("wrong horse", &phc));
        assert!(!verify_blocking("correct horse", "not a hash"));
        // A hash asking for absurd memory is refused, not computed.
        let greedy = phc.replace("m=19456", "m=4000000");
        assert!(!verify_blocking("correct horse", &greedy));
        // Fresh working memory each time gives the same answers again.
        assert!(verify_blocking("correct horse", &phc));
        assert!(!verify_blocking("correct horsf", &phc));
    }

    #[test]
    fn our_phc_strings_are_argon2s_own() {
        use argon2::password_hash::PasswordVerifier;
        // Hashed through our own working memory, checked by argon2's own verifier: the PHC
        // string we build is the standard one, so hashes stay portable.
        let phc = hash_blocking("correct horse").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(hasher().verify_password(b"correct horse", &parsed).is_ok());
        assert!(hasher().verify_password(b"wrong horse", &parsed).is_err());
        assert_ne!(phc, hash_blocking("correct horse").unwrap(), "a fresh salt every time");
    }

    #[tokio::test]
    async fn spare_memory_is_reused_then_given_back_when_logins_stop() {
        let phc = hash("correct horse".into()).await.unwrap();
        assert!(verify("correct horse".into(), Some(phc.clone())).await);
        assert!(Spare::held() >= 1, "a finished hash leaves its memory for the next one");
        // Logins keep coming: the memory stays.
        tokio::time::sleep(KEEP_SPARE / 3).await;
        assert!(!verify("wrong horse".into(), Some(phc)).await);
        assert!(Spare::held() >= 1);
        // Quiet for longer than KEEP_SPARE: given back. Other unit tests hash in parallel
        // and each of their hashes restarts the wait, so wait until the whole binary is quiet
        // (bounded).
        for _ in 0..40 {
            tokio::time::sleep(KEEP_SPARE).await;
            if Spare::held() == 0 {
                break;
            }
        }
        assert_eq!(Spare::held(), 0);
    }

    #[test]
    fn policy_rejects_short_and_control_passwords() {
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("12345678").is_ok());
        assert!(check_policy("1234567\n8").is_err());
        assert!(check_policy(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }

    #[test]
    fn generated_passwords_pass_policy_and_differ() {
        let a = generate();
        assert!(check_policy(&a).is_ok());
        assert_ne!(a, generate());
    }
}
