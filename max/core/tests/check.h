// A tiny test harness: CHECK records a failure and goes on; main() returns the failure count.
#pragma once

#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace check {

inline int& failures() {
  static int count = 0;
  return count;
}

inline std::vector<std::pair<const char*, std::function<void()>>>& cases() {
  static std::vector<std::pair<const char*, std::function<void()>>> all;
  return all;
}

struct Register {
  Register(const char* name, std::function<void()> body) { cases().emplace_back(name, std::move(body)); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::printf("%s:%d: FAILED %s\n", file, line, what.c_str());
  ++failures();
}

// The exception's message if `body` throws an E, or "" (and a failure) if it does not.
template <typename E, typename F>
std::string thrown(F body, const char* file, int line) {
  try {
    body();
  } catch (const E& e) {
    return e.what();
  }
  fail(file, line, "expected an exception");
  return "";
}

}  // namespace check

#define CHECK_JOIN2(a, b) a##b
#define CHECK_JOIN(a, b) CHECK_JOIN2(a, b)
#define TEST(name)                                                                  \
  static void name();                                                               \
  static const check::Register CHECK_JOIN(register_, name)(#name, name);            \
  static void name()
#define CHECK(condition) \
  ((condition) ? (void)0 : check::fail(__FILE__, __LINE__, #condition))
#define CHECK_EQ(a, b)                                                                              \
  ((a) == (b) ? (void)0                                                                             \
              : check::fail(__FILE__, __LINE__, #a " == " #b " (" + std::to_string(a) + " vs " + \
                                                    std::to_string(b) + ")"))
#define CHECK_NEAR(a, b, tolerance)                                                                  \
  (std::fabs((a) - (b)) <= (tolerance) ? (void)0                                                     \
                                       : check::fail(__FILE__, __LINE__, #a " ~ " #b " (" + std::to_string(a) + \
                                                                             " vs " + std::to_string(b) + ")"))
#define CHECK_THROWS(E, expr) check::thrown<E>([&] { (void)(expr); }, __FILE__, __LINE__)

int main() {
  for (auto& [name, body] : check::cases()) {
    const int before = check::failures();
    try {
      body();
    } catch (const std::exception& e) {
      check::fail(__FILE__, __LINE__, std::string(name) + " threw: " + e.what());
    }
    std::printf("%s %s\n", check::failures() == before ? "ok  " : "FAIL", name);
  }
  return check::failures() == 0 ? 0 : 1;
}
