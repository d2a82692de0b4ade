#include "jaxaccomp/window.h"

#include <stdexcept>

#include "check.h"

using jaxaccomp::StepClock;
using jaxaccomp::Timing;

TEST(windows_follow_the_reference_formulas) {
  const Timing t{264600, 0.25, 1, 882};
  const auto s = jaxaccomp::step_windows(2 * 66150, t);
  CHECK_EQ(s.read_start, 66150);
  CHECK_EQ(s.read_end, 132300);
  CHECK_EQ(s.content_start, 132300 + 66150);
  CHECK_EQ(s.content_end, 132300 + 2 * 66150);
  CHECK_EQ(s.write_start, 132300 + 66150 - 882);
  CHECK_EQ(s.reply_length(), 66150 + 882);  // 67,032 as the reference server sends
  const auto retro = jaxaccomp::step_windows(132300, Timing{264600, 0.25, -1, 0});
  CHECK_EQ(retro.content_start, retro.read_start);
  CHECK_EQ(retro.content_end, retro.read_end);
}

TEST(impossible_timings_are_refused_in_one_line) {
  const Timing bad[] = {{264600, 0.5, 1, 0}, {264600, 0.25, 2, 0}, {264600, 0.0, 0, 0}, {2, 0.25, 0, 0},
                        {264600, 0.25, 0, -1}};
  for (const Timing& t : bad) {
    const std::string what = CHECK_THROWS(std::invalid_argument, jaxaccomp::validate(t));
    CHECK(!what.empty() && what.find('\n') == std::string::npos);
  }
  jaxaccomp::validate(Timing{264600, 0.5, 0, 882});  // (w+2) r = 1 is allowed
  jaxaccomp::validate(Timing{264600, 1.0 / 3, 1, 882});
}

TEST(the_clock_fires_once_per_step_boundary) {
  StepClock clock(100);
  std::vector<std::int64_t> fired;
  for (std::int64_t playhead = 64; playhead <= 512; playhead += 64)
    if (auto at = clock.advance(playhead)) fired.push_back(*at);
  CHECK(fired == (std::vector<std::int64_t>{100, 200, 300, 400, 500}));
  CHECK(!clock.advance(100));  // moved back: no step
  CHECK_EQ(*clock.advance(230), 200);
  CHECK_EQ(*clock.advance(1000), 1000);  // a jump reports the latest boundary only
}
