/*
 * The C side of numaload's `ffi` target variant: a stand-in for a C library on the request
 * hot path. One call either blocks (nanosleep) or burns `work_us` microseconds of its thread's
 * CPU time (a loop on clock_gettime).
 *
 * It also behaves like a thread-affine library: a thread that will call it repeatedly first
 * calls numaload_ffi_thread_init(), which sets up per-thread state (a __thread struct), and
 * numaload_ffi_thread_fini() on the same thread when done. Each call reports the thread it
 * ran on and the thread that initialised the state it used, so a caller can prove that every
 * call of a session ran where its state lives. Process-wide counters of inits and finis let a
 * test check that every state was torn down exactly once.
 *
 * Everything here is thread-safe: per-thread state needs no lock, and the counters are C11
 * atomics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NUMALOAD_FFI_SPIN 0
#define NUMALOAD_FFI_SLEEP 1

/* What one call reports; mirrored by `RawCall` in src/ffi.rs. */
struct numaload_ffi_call {
    int64_t tid;          /* gettid() of the thread that ran the call */
    int64_t state_tid;    /* the thread that initialised the state used; 0 when none */
    uint64_t state_calls; /* calls made on that state so far, this one included */
};

/* Process-wide counters; mirrored by `RawStats` in src/ffi.rs. */
struct numaload_ffi_stats {
    uint64_t inits;          /* successful numaload_ffi_thread_init() */
    uint64_t finis;          /* successful numaload_ffi_thread_fini() */
    uint64_t misuses;        /* init twice on one thread, or fini without init */
};

struct thread_state {
    int64_t init_tid; /* 0 while not initialised */
    uint64_t calls;
};

static __thread struct thread_state state;

static atomic_uint_fast64_t inits;
static atomic_uint_fast64_t finis;
static atomic_uint_fast64_t misuses;

static int64_t current_tid(void) {
    return (int64_t)syscall(SYS_gettid);
}

static uint64_t clock_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void sleep_us(uint64_t work_us) {
    struct timespec left = {
        .tv_sec = (time_t)(work_us / 1000000u),
        .tv_nsec = (long)(work_us % 1000000u) * 1000,
    };
    /* A signal may interrupt the sleep; finish the rest of it. */
    while (nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
}

/*
 * Burns work_us of this thread's CPU time: it spins on the monotonic clock (cheap to read) for
 * what it still owes, then reads its CPU time to learn what it really got, and spins on while a
 * deschedule left it short. So a call costs its whole work_us of CPU, and holds its thread
 * longer than that in wall time when it shares a CPU, as real work would.
 */
static uint64_t spin_us(uint64_t work_us) {
    uint64_t want = work_us * 1000u;
    uint64_t cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t owed = want;
    volatile uint64_t sink = 0x9E3779B97F4A7C15u;
    for (;;) {
        uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + owed;
        while (clock_ns(CLOCK_MONOTONIC) < deadline) {
            for (int i = 0; i < 32; i++) {
                sink = sink * 6364136223846793005u + 1442695040888963407u;
            }
        }
        uint64_t used = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
        if (used >= want) {
            return sink;
        }
        owed = want - used;
    }
}

/* Sets up this thread's state. Returns this thread's id, or -1 if it already had state. */
int64_t numaload_ffi_thread_init(void) {
    if (state.init_tid != 0) {
        atomic_fetch_add(&misuses, 1);
        return -1;
    }
    state.init_tid = current_tid();
    state.calls = 0;
    atomic_fetch_add(&inits, 1);
    return state.init_tid;
}

/* Tears down this thread's state. Returns the calls made on it, or -1 if there was none. */
int64_t numaload_ffi_thread_fini(void) {
    if (state.init_tid == 0) {
        atomic_fetch_add(&misuses, 1);
        return -1;
    }
    int64_t calls = (int64_t)state.calls;
    state.init_tid = 0;
    state.calls = 0;
    atomic_fetch_add(&finis, 1);
    return calls;
}

/*
 * Blocks (mode NUMALOAD_FFI_SLEEP) or burns CPU (NUMALOAD_FFI_SPIN) for work_us, then fills
 * *out. Works with or without thread state. Returns 0, or -1 for an unknown mode.
 */
int numaload_ffi_work(uint32_t mode, uint64_t work_us, struct numaload_ffi_call *out) {
    switch (mode) {
    case NUMALOAD_FFI_SPIN:
        (void)spin_us(work_us);
        break;
    case NUMALOAD_FFI_SLEEP:
        sleep_us(work_us);
        break;
    default:
        return -1;
    }
    if (state.init_tid != 0) {
        state.calls += 1;
    }
    out->tid = current_tid();
    out->state_tid = state.init_tid;
    out->state_calls = state.calls;
    return 0;
}

void numaload_ffi_stats(struct numaload_ffi_stats *out) {
    out->inits = atomic_load(&inits);
    out->finis = atomic_load(&finis);
    out->misuses = atomic_load(&misuses);
}
