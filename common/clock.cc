#include "common/clock.h"

namespace evnet {

Clock& SystemClock::Get() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace evnet
