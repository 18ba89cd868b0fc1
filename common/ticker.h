// A thread that calls a function every `interval` until it is destroyed.
// The owner joins it; stopping wakes it at once rather than after a tick.
#ifndef EVNET_COMMON_TICKER_H_
#define EVNET_COMMON_TICKER_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace evnet {

class Ticker {
 public:
  Ticker(absl::Duration interval, std::function<void()> tick)
      : interval_(interval), tick_(std::move(tick)), thread_([this] { Run(); }) {}
  ~Ticker() { Stop(); }

  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  void Stop() {
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    while (!stop_.WaitForNotificationWithTimeout(interval_)) tick_();
  }

  const absl::Duration interval_;
  const std::function<void()> tick_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_TICKER_H_
