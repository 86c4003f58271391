/*
 * Preloaded before Debian's libfaketime by `make test-clock`: the waits go straight to libc.
 *
 * libfaketime moves the wall clock (FAKETIME=+365d). It also wraps every wait (epoll_wait,
 * poll, select, nanosleep, clock_nanosleep, ...) to scale its timeout for a clock rate, which
 * the suite does not use, and that wrapper does harm in libfaketime 0.9.10 (Debian 12):
 *
 * - while inside a wrapped wait, libfaketime answers the *real* time (its thread-local
 *   dont_fake flag is set around the call), so a signal handler that reads the clock during
 *   the wait sees the real time. PostgreSQL's timeouts are judged in its SIGALRM handler: a
 *   statement_timeout that comes due while the backend waits (pg_sleep, a latch) is taken as
 *   a year away and never fires;
 * - its clock_nanosleep shifts an absolute deadline by the fake wall-clock offset whatever
 *   the clock, so the CLOCK_MONOTONIC deadline of Python's time.sleep() fails with EINVAL
 *   (the monotonic clock stays real: FAKETIME_DONT_FAKE_MONOTONIC=1).
 *
 * Here each of those waits calls libc's own function (looked up in libc, not in the global
 * scope where libfaketime's would be found). Relative timeouts need nothing more; an absolute
 * CLOCK_REALTIME deadline of clock_nanosleep is a fake time and is moved back to the real
 * clock. The clocks themselves (clock_gettime, gettimeofday, time) stay libfaketime's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static void *libc_symbol(const char *name)
{
  static void *libc;
  if (libc == NULL)
    libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  return libc == NULL ? NULL : dlsym(libc, name);
}

#define REAL(name)                                                    \
  static __typeof__(&name) real_##name;                               \
  if (real_##name == NULL)                                            \
    real_##name = (__typeof__(&name))libc_symbol(#name);              \
  if (real_##name == NULL)                                            \
  {                                                                   \
    errno = ENOSYS;                                                   \
    return -1;                                                        \
  }

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
  REAL(epoll_wait);
  return real_epoll_wait(epfd, events, maxevents, timeout);
}

int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
                const sigset_t *sigmask)
{
  REAL(epoll_pwait);
  return real_epoll_pwait(epfd, events, maxevents, timeout, sigmask);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
  REAL(poll);
  return real_poll(fds, nfds, timeout);
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
          const sigset_t *sigmask)
{
  REAL(ppoll);
  return real_ppoll(fds, nfds, timeout, sigmask);
}

int select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
           struct timeval *timeout)
{
  REAL(select);
  return real_select(nfds, readfds, writefds, exceptfds, timeout);
}

int pselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
            const struct timespec *timeout, const sigset_t *sigmask)
{
  REAL(pselect);
  return real_pselect(nfds, readfds, writefds, exceptfds, timeout, sigmask);
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
  REAL(nanosleep);
  return real_nanosleep(req, rem);
}

int usleep(useconds_t usec)
{
  REAL(usleep);
  return real_usleep(usec);
}

unsigned int sleep(unsigned int seconds)
{
  static __typeof__(&sleep) real_sleep;
  if (real_sleep == NULL)
    real_sleep = (__typeof__(&sleep))libc_symbol("sleep");
  return real_sleep == NULL ? seconds : real_sleep(seconds);
}

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *req,
                    struct timespec *rem)
{
  REAL(clock_nanosleep);
  if (clock_id == CLOCK_REALTIME && (flags & TIMER_ABSTIME) && req != NULL)
  {
    static __typeof__(&clock_gettime) real_clock_gettime;
    struct timespec fake, real, moved;
    if (real_clock_gettime == NULL)
      real_clock_gettime = (__typeof__(&clock_gettime))libc_symbol("clock_gettime");
    if (real_clock_gettime != NULL && clock_gettime(CLOCK_REALTIME, &fake) == 0 &&
        real_clock_gettime(CLOCK_REALTIME, &real) == 0)
    {
      /* the deadline less the offset (fake - real), in whole nanoseconds */
      long long ns = (long long)req->tv_nsec - fake.tv_nsec + real.tv_nsec;
      moved.tv_sec = req->tv_sec - fake.tv_sec + real.tv_sec + ns / 1000000000LL;
      moved.tv_nsec = ns % 1000000000LL;
      if (moved.tv_nsec < 0)
      {
        moved.tv_nsec += 1000000000LL;
        moved.tv_sec -= 1;
      }
      return real_clock_nanosleep(clock_id, flags, &moved, rem);
    }
  }
  return real_clock_nanosleep(clock_id, flags, req, rem);
}
