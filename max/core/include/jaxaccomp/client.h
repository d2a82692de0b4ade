// The client a Max or Pd object wraps: settings, the step that sends a batch, and the replies a
// listener thread receives and the host thread writes (poll). Every method but the listener's
// loop runs on the host's thread, and the host's callbacks are only ever called from there.
// Not thread-safe otherwise: a host that calls it from several threads (Max: the main thread and
// the scheduler) must serialise the calls itself, as max/maxmsp/multi_track.cpp does.
//
// Bad settings throw std::invalid_argument, network set-up errors std::runtime_error; both have a
// one-line what(). step() and poll() never throw: a send failure is logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "jaxaccomp/placement.h"
#include "jaxaccomp/protocol.h"
#include "jaxaccomp/sample_store.h"
#include "jaxaccomp/stats.h"
#include "jaxaccomp/udp.h"
#include "jaxaccomp/upstream.h"
#include "jaxaccomp/window.h"

namespace jaxaccomp {

enum class Level { info, warning, error };

struct HostCallbacks {
  std::function<void(Level, const std::string&)> log;
  // Named values for an outlet: "ready" 1, "batch" id (complete), "rtt_ms", "packet_test_ms",
  // "server_<name>" from /stats_reply. Optional.
  std::function<void(const std::string& name, double value)> report;
};

class Client {
 public:
  static constexpr int kDefaultPacketSize = 1024;

  // `stems`: one name per channel of the store, as the server names them (bass drums guitar piano).
  Client(std::vector<std::string> stems, HostCallbacks host);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void set_server(const std::string& host, int port);  // where batches and controls go
  void listen(int port);  // (re)bind the reply port (0: any free one); a busy port keeps the old one
  int listening_port() const;

  // Settings: checked, then sent to the server (once set_server was called).
  void set_T(std::int64_t samples);  // not on the wire: our server's /hello_reply overrides it
  void set_r(double r);
  void set_w(int w);
  void set_fade(double ratio);       // of a second, as on the wire
  void set_packet_size(int samples);
  void set_predicted(const std::vector<bool>& flags);  // one per stem: the stems to generate
  void set_verbose(bool on);
  void set_sample_rate(double rate);                   // the host's; the fade in samples follows it
  void set_max_datagram(std::size_t bytes);            // the packet size must keep datagrams within it
  void set_server_ramps_lead_in(bool ramped);          // true for both servers by default (see placement.h)
  void set_kept_batches(std::size_t batches);          // how many newest batches accept replies
  // Off: speak exactly the reference protocol (float lists, no positions) and ignore /hello_reply.
  void set_extensions(bool on) { extensions_ = on; }

  // Push every setting and /load_model as Max's load_model does, then /hello; again on every later
  // /ready (a restarted server has forgotten them).
  void load_model();
  void hello();       // ask our server what it supports; the reference server ignores it
  void request_stats();
  void test_packet();
  void print();
  void reset();  // /reset; replies of batches sent so far are refused from now on

  // Send the step at playhead `curr` (a multiple of the step size): the mix of the unpredicted
  // stems over [curr - step, curr), after zeroing the predicted stems' content window. Returns the
  // batch id, or 0 when nothing was sent. Batch ids grow by the steps the playhead moved, so our
  // server's timeline stays in step; a playhead that moved back resets the server first.
  std::int32_t step(std::int64_t curr, SampleStore& store);
  // Write every reply received so far into `store` and report what happened.
  void poll(SampleStore& store);

  const Timing& timing() const { return timing_; }
  int packet_size() const { return packet_size_; }
  Encoding encoding() const { return encoding_; }
  bool sends_positions() const { return send_position_; }
  const std::vector<std::string>& stems() const { return stems_; }
  const std::vector<bool>& predicted() const { return predicted_; }
  const Stats& stats() const { return stats_; }

 private:
  // Applies `change` to a copy of the timing and keeps it only if it validates (else throws).
  template <class Change>
  void retime(Change change) {
    Timing next = timing_;
    change(next);
    validate(next);
    timing_ = next;
  }

  struct Note {
    std::string text;  // a malformed datagram
  };
  struct Received {
    std::variant<ServerEvent, Note> what;
    Clock::time_point at;
  };

  void send(const osc::Bytes& datagram);
  void check_packet_size(int samples, std::size_t max_datagram) const;
  void listen_loop();
  void stop_listening();
  void handle(const ServerEvent& event, Clock::time_point at, SampleStore& store);
  void log(Level level, const std::string& text) const;
  void report(const std::string& name, double value) const;
  void flush(std::vector<std::string>& notes, Level level);

  std::vector<std::string> stems_;
  HostCallbacks host_;
  Timing timing_;
  double fade_ratio_ = 0.02, sample_rate_ = 44100.0;
  int packet_size_ = kDefaultPacketSize;
  std::vector<bool> predicted_;
  bool verbose_ = false, ramped_ = true, extensions_ = true;
  bool loaded_ = false;  // load_model ran: a /ready means a restarted server
  std::size_t max_datagram_ = kMacDatagramLimit;
  Encoding encoding_ = Encoding::floats;
  bool send_position_ = false;

  std::optional<Endpoint> server_;
  UdpSocket sender_;
  Stats stats_;
  ReplyPlacer placer_;
  std::int32_t last_batch_ = 0;
  std::int64_t last_curr_ = 0;
  Clock::time_point packet_test_sent_;

  std::unique_ptr<UdpSocket> listener_;  // replaced only while no listener thread runs
  std::atomic<bool> listening_{false};
  std::thread listen_thread_;
  std::mutex inbox_mutex_;
  std::vector<Received> inbox_;
};

}  // namespace jaxaccomp
