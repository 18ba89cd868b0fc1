// C11 threads (<threads.h>) on top of pthreads, for ThreadSanitizer builds
// only (--config=tsan).
//
// Debian's librdkafka runs its threads and locks with glibc's C11 threads.
// glibc implements thrd_create, mtx_lock, cnd_wait, ... by calling its own
// pthread functions internally, past ThreadSanitizer's interceptors, and
// GCC 12's ThreadSanitizer does not intercept the C11 names (LLVM does from
// version 15). Its threads then start unknown to the sanitizer, which
// crashes in their first malloc, and its locks order nothing. These
// definitions take precedence over glibc's (the program is searched first)
// and call the pthread functions the sanitizer does intercept. glibc's mtx_t
// and cnd_t are pthread_mutex_t and pthread_cond_t underneath, so the casts
// are what glibc itself does.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <time.h>

namespace {

int Result(int error) {
  switch (error) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    default: return thrd_error;
  }
}

pthread_mutex_t* Mutex(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* Cond(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

struct Start {
  thrd_start_t function;
  void* arg;
};

void* Run(void* start) {
  const Start s = *static_cast<Start*>(start);
  free(start);
  return reinterpret_cast<void*>(static_cast<intptr_t>(s.function(s.arg)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t function, void* arg) {
  Start* start = static_cast<Start*>(malloc(sizeof(Start)));
  if (start == nullptr) return thrd_nomem;
  *start = {function, arg};
  const int error = pthread_create(thread, nullptr, Run, start);
  if (error != 0) free(start);
  return Result(error);
}

int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  const int error = pthread_join(thread, &value);
  if (error == 0 && result != nullptr) {
    *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  }
  return Result(error);
}

int thrd_detach(thrd_t thread) { return Result(pthread_detach(thread)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int error = pthread_mutex_init(Mutex(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return Result(error);
}

int mtx_lock(mtx_t* m) { return Result(pthread_mutex_lock(Mutex(m))); }
int mtx_trylock(mtx_t* m) { return Result(pthread_mutex_trylock(Mutex(m))); }
int mtx_timedlock(mtx_t* m, const struct timespec* until) {
  return Result(pthread_mutex_timedlock(Mutex(m), until));
}
int mtx_unlock(mtx_t* m) { return Result(pthread_mutex_unlock(Mutex(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(Mutex(m)); }

int cnd_init(cnd_t* c) { return Result(pthread_cond_init(Cond(c), nullptr)); }
int cnd_signal(cnd_t* c) { return Result(pthread_cond_signal(Cond(c))); }
int cnd_broadcast(cnd_t* c) { return Result(pthread_cond_broadcast(Cond(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return Result(pthread_cond_wait(Cond(c), Mutex(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* until) {
  return Result(pthread_cond_timedwait(Cond(c), Mutex(m), until));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(Cond(c)); }

}  // extern "C"
