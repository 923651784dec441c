//! A helper thread that runs one job at a time on a value handed to it, and a caller that waits
//! for it only until a deadline.
//!
//! The value (a collector with its context, or the whole scraper) goes to the helper through a
//! `Mutex` + `Condvar` slot and comes back the same way: nothing is allocated per run, and one
//! run is one thread hop there and one back. When the deadline passes, the caller goes on
//! without the value; it stays with the helper, which is still blocked in the kernel, and
//! [`Guard::take_back`] returns it once the blocked call has returned. So a source that never
//! answers costs one thread and whatever descriptors that one run holds, never more.
use std::os::fd::RawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

struct Slot<T> {
    /// A value to work on, put by the caller.
    job: Option<T>,
    /// The value worked on, put back by the helper.
    done: Option<T>,
    /// The caller is gone: the helper exits.
    quit: bool,
}

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    /// Signalled when a job is put (and on quit).
    to_helper: Condvar,
    /// Signalled when a job is done.
    to_caller: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking job leaves the slot as it was: take it over rather than propagate.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why [`Guard::run`] did not give the value back.
#[derive(Debug)]
pub enum Away {
    /// The job did not finish by the deadline; the helper keeps the value until it does.
    TimedOut,
    /// An earlier run has not finished yet.
    StillBusy,
    /// The helper thread could not be started.
    Spawn(std::io::Error),
}

/// One helper thread (started on first use) for values of type `T`.
pub struct Guard<T: Send + 'static> {
    name: &'static str,
    work: fn(&mut T),
    shared: Option<Arc<Shared<T>>>,
    /// A run passed its deadline (or was [`Guard::send`]) and its value has not been taken
    /// back.
    away: bool,
    /// A pipe the helper writes one byte to when a job is done (see [`Guard::wake_on`]).
    wake: Option<RawFd>,
}

impl<T: Send + 'static> Guard<T> {
    /// `work` runs on the helper thread, named `name`.
    pub fn new(name: &'static str, work: fn(&mut T)) -> Self {
        Guard {
            name,
            work,
            shared: None,
            away: false,
            wake: None,
        }
    }

    /// Has the helper write one byte to `fd` (the write end of a non-blocking pipe the caller
    /// polls) after every job.
    pub fn wake_on(&mut self, fd: RawFd) {
        self.wake = Some(fd);
    }

    /// Hands `value` to the helper without waiting; [`Guard::take_back`] returns it when the
    /// job is done.
    pub fn send(&mut self, value: T) -> Result<(), (Away, T)> {
        if self.away {
            return Err((Away::StillBusy, value));
        }
        let shared = match self.start() {
            Ok(s) => s,
            Err(e) => return Err((Away::Spawn(e), value)),
        };
        lock(&shared.slot).job = Some(value);
        shared.to_helper.notify_one();
        self.away = true;
        Ok(())
    }

    /// Whether a run that passed its deadline still holds its value.
    #[cfg(test)]
    pub fn is_away(&self) -> bool {
        self.away
    }

    /// The value of a run that passed its deadline, once it has finished; `None` while the
    /// helper is still in it (or when nothing is away).
    pub fn take_back(&mut self) -> Option<T> {
        if !self.away {
            return None;
        }
        let shared = self.shared.as_ref()?;
        let back = lock(&shared.slot).done.take();
        self.away = back.is_none();
        back
    }

    fn start(&mut self) -> std::io::Result<Arc<Shared<T>>> {
        if let Some(s) = &self.shared {
            return Ok(Arc::clone(s));
        }
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                job: None,
                done: None,
                quit: false,
            }),
            to_helper: Condvar::new(),
            to_caller: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let work = self.work;
        let wake = self.wake;
        thread::Builder::new()
            .name(self.name.into())
            .stack_size(256 << 10)
            .spawn(move || helper(&theirs, work, wake))?;
        self.shared = Some(Arc::clone(&shared));
        Ok(shared)
    }

    /// Runs the job on `value` on the helper thread and waits until `deadline` at most. The
    /// value comes back with `Ok`; with `Err` it is away (see [`Guard::take_back`]), or, when
    /// the helper could not be started, given back in the error's second part.
    pub fn run(&mut self, value: T, deadline: Instant) -> Result<T, (Away, Option<T>)> {
        if self.away {
            return Err((Away::StillBusy, Some(value)));
        }
        let shared = match self.start() {
            Ok(s) => s,
            Err(e) => return Err((Away::Spawn(e), Some(value))),
        };
        let mut slot = lock(&shared.slot);
        slot.job = Some(value);
        shared.to_helper.notify_one();
        loop {
            if let Some(v) = slot.done.take() {
                return Ok(v);
            }
            let now = Instant::now();
            if now >= deadline {
                self.away = true;
                return Err((Away::TimedOut, None));
            }
            slot = shared
                .to_caller
                .wait_timeout(slot, deadline - now)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
    }
}

impl<T: Send + 'static> Drop for Guard<T> {
    fn drop(&mut self) {
        if let Some(s) = &self.shared {
            lock(&s.slot).quit = true;
            s.to_helper.notify_one();
        }
    }
}

fn helper<T>(shared: &Shared<T>, work: fn(&mut T), wake: Option<RawFd>) {
    let mut slot = lock(&shared.slot);
    loop {
        if slot.quit {
            return;
        }
        if let Some(mut value) = slot.job.take() {
            drop(slot);
            work(&mut value);
            slot = lock(&shared.slot);
            slot.done = Some(value);
            shared.to_caller.notify_one();
            if let Some(fd) = wake {
                // SAFETY: one byte from a local; a full pipe (EAGAIN) already wakes the caller.
                let _ = unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
            }
            continue;
        }
        slot = shared
            .to_helper
            .wait(slot)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// musl's `pthread_setname_np`, which std calls to give a helper thread its name, replaced in
/// the static builds by this one: musl's formats the path of another thread's
/// `/proc/self/task/TID/comm` with `snprintf` and so links musl's whole printf (9 KB with its
/// float formatting, DESIGN.md: "Size"), the only use of printf in the binary. std names only
/// the thread it runs on, which is `prctl(PR_SET_NAME)`, as in musl; naming another thread
/// (never asked for here) is `EPERM`. The linker takes this definition and leaves musl's
/// object out.
#[cfg(all(target_os = "linux", target_env = "musl"))]
#[no_mangle]
pub extern "C" fn pthread_setname_np(
    thread: libc::pthread_t,
    name: *const libc::c_char,
) -> libc::c_int {
    set_own_name(thread, name)
}

/// What [`pthread_setname_np`] does (the tests call it on every target).
#[cfg(any(test, all(target_os = "linux", target_env = "musl")))]
#[cfg_attr(proctap_size, optimize(size))]
fn set_own_name(thread: libc::pthread_t, name: *const libc::c_char) -> libc::c_int {
    // SAFETY: `name` is a NUL-terminated string (the caller's contract, as for musl's); at
    // most 16 bytes of it are read.
    let len = unsafe { libc::strnlen(name, 16) };
    if len > 15 {
        return libc::ERANGE;
    }
    // SAFETY: pthread_self has no preconditions.
    if thread != unsafe { libc::pthread_self() } {
        return libc::EPERM;
    }
    // SAFETY: PR_SET_NAME reads at most 16 bytes of a NUL-terminated string.
    if unsafe { libc::prctl(libc::PR_SET_NAME, name as libc::c_ulong, 0, 0, 0) } != 0 {
        return std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    static RELEASE: AtomicBool = AtomicBool::new(false);

    fn block_until_released(v: &mut u32) {
        while *v == 7 && !RELEASE.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        *v += 1;
    }

    #[test]
    fn a_run_past_its_deadline_is_away_until_it_returns() {
        let mut g = Guard::new("test-guard", block_until_released);
        let soon = || Instant::now() + Duration::from_secs(5);
        assert_eq!(g.run(1, soon()).unwrap(), 2);
        let start = Instant::now();
        let r = g.run(7, Instant::now() + Duration::from_millis(50));
        assert!(matches!(r, Err((Away::TimedOut, None))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(g.is_away());
        assert!(g.take_back().is_none(), "still blocked");
        let r = g.run(3, soon());
        assert!(matches!(r, Err((Away::StillBusy, Some(3)))), "{r:?}");
        RELEASE.store(true, Ordering::SeqCst);
        let back = loop {
            if let Some(v) = g.take_back() {
                break v;
            }
            thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(back, 8);
        assert!(!g.is_away());
        assert_eq!(g.run(10, soon()).unwrap(), 11, "the same helper again");
    }
    #[test]
    fn own_name_is_set_by_prctl() {
        let comm = std::thread::spawn(|| {
            // SAFETY: pthread_self has no preconditions.
            let me = unsafe { libc::pthread_self() };
            assert_eq!(set_own_name(me, b"proctap-named\0".as_ptr().cast()), 0);
            assert_eq!(
                set_own_name(me, b"sixteen-bytes-xx\0".as_ptr().cast()),
                libc::ERANGE
            );
            std::fs::read_to_string("/proc/thread-self/comm").unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(comm, "proctap-named\n");
        // SAFETY: pthread_self has no preconditions.
        let main = unsafe { libc::pthread_self() };
        let other = std::thread::spawn(move || set_own_name(main, b"x\0".as_ptr().cast()));
        assert_eq!(other.join().unwrap(), libc::EPERM);
    }
}
