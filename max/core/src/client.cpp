#include "jaxaccomp/client.h"

#include <algorithm>
#include <random>
#include <sstream>
#include <stdexcept>

namespace jaxaccomp {
namespace {

constexpr int kSocketBuffer = 4 << 20;        // a whole batch of reply chunks fits while the host is busy
constexpr std::size_t kReceiveSize = 65536;    // any UDP datagram
constexpr int kListenPollMs = 50;              // how often the listener checks that it should stop
constexpr std::size_t kInboxLimit = 1 << 16;  // events kept for a host that stopped polling

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

Client::Client(std::vector<std::string> stems, HostCallbacks host)
    : stems_(std::move(stems)), host_(std::move(host)), predicted_(stems_.size(), false), placer_(stats_) {
  if (stems_.empty()) throw std::invalid_argument("give at least one stem name");
  for (const std::string& stem : stems_)
    if (stem.empty() || stem.find_first_of("/ \0", 0, 3) != std::string::npos)
      throw std::invalid_argument("bad stem name '" + stem + "' (no spaces or slashes)");
  timing_.fade = static_cast<std::int64_t>(fade_ratio_ * sample_rate_);
  sender_.set_buffers(kSocketBuffer);
}

Client::~Client() { stop_listening(); }

// --- connection ------------------------------------------------------------------------------

void Client::set_server(const std::string& host, int port) { server_ = resolve(host, port); }

void Client::listen(int port) {
  if (listener_ && port != 0 && port == listener_->local_port()) return;
  auto socket = std::make_unique<UdpSocket>();  // bound before the old one goes: a busy port keeps it
  socket->set_buffers(kSocketBuffer);
  socket->bind(port);
  stop_listening();
  listener_ = std::move(socket);
  listening_ = true;
  listen_thread_ = std::thread(&Client::listen_loop, this);
}

int Client::listening_port() const { return listener_ ? listener_->local_port() : 0; }

void Client::stop_listening() {
  listening_ = false;
  if (listen_thread_.joinable()) listen_thread_.join();
  listener_.reset();
}

void Client::listen_loop() {
  std::vector<std::uint8_t> buffer(kReceiveSize);
  while (listening_) {
    try {
      const auto size = listener_->receive(buffer.data(), buffer.size(), kListenPollMs);
      if (!size) continue;
      const Clock::time_point at = Clock::now();
      std::vector<Received> got;
      try {
        for (ServerEvent& event : read_server_datagram(buffer.data(), *size)) got.push_back({std::move(event), at});
      } catch (const osc::Error& e) {
        got = {{Note{e.what()}, at}};
      }
      std::lock_guard<std::mutex> lock(inbox_mutex_);
      if (inbox_.size() < kInboxLimit) inbox_.insert(inbox_.end(), got.begin(), got.end());
    } catch (...) {  // never let anything end the process from this thread; the next datagram may be fine
    }
  }
}

void Client::send(const osc::Bytes& datagram) {
  if (!server_) throw std::runtime_error("no server set (set_server host port)");
  sender_.send_to(*server_, datagram.data(), datagram.size());
  stats_.bytes_sent += static_cast<std::int64_t>(datagram.size());
}

// --- settings --------------------------------------------------------------------------------

void Client::set_T(std::int64_t samples) {
  retime([samples](Timing& next) { next.T = samples; });
}

void Client::set_r(double r) {
  retime([r](Timing& next) { next.r = r; });
  if (server_) send(messages::update_r(r));
}

void Client::set_w(int w) {
  retime([w](Timing& next) { next.w = w; });
  if (server_) send(messages::w(w));
}

void Client::set_fade(double ratio) {
  if (!(ratio >= 0.0 && ratio <= 1.0)) throw std::invalid_argument("fade must be in [0, 1] seconds");
  fade_ratio_ = ratio;
  timing_.fade = static_cast<std::int64_t>(ratio * sample_rate_);
  if (server_) send(messages::update_fade(ratio));
}

void Client::check_packet_size(int samples, std::size_t max_datagram) const {
  std::string longest = "/context";
  for (const std::string& stem : stems_)
    if (stem.size() + 1 > longest.size()) longest = "/" + stem;
  // The reference server replies with float lists whatever we send, and /hello may switch positions
  // on later: bound the largest form.
  const int limit = max_packet_size(longest, max_datagram, Encoding::floats, true);
  if (samples < kMinPacketSize || samples > limit) {
    std::ostringstream why;
    why << "packet size " << samples << " refused: it must be " << kMinPacketSize << " to " << limit
        << " samples so that datagrams stay within " << max_datagram << " bytes";
    if (samples > limit)
      why << " (" << audio_datagram_size(longest, static_cast<std::size_t>(samples), Encoding::floats, true)
          << " bytes; raise max_datagram on systems that allow it)";
    throw std::invalid_argument(why.str());
  }
}

void Client::set_packet_size(int samples) {
  check_packet_size(samples, max_datagram_);
  packet_size_ = samples;
  if (server_) send(messages::update_package_size(samples));
}

void Client::set_max_datagram(std::size_t bytes) {
  if (bytes < 1024 || bytes > kMaxUdpPayload)
    throw std::invalid_argument("max_datagram must be 1024 to " + std::to_string(kMaxUdpPayload) + " bytes");
  check_packet_size(packet_size_, bytes);
  max_datagram_ = bytes;
}

void Client::set_predicted(const std::vector<bool>& flags) {
  if (flags.size() != stems_.size())
    throw std::invalid_argument("predict_instruments takes " + std::to_string(stems_.size()) +
                                " flags (one per stem), got " + std::to_string(flags.size()));
  predicted_ = flags;
  if (server_) send(messages::predict_instruments(flags));
}

void Client::set_verbose(bool on) {
  verbose_ = on;
  if (server_) send(messages::verbose(on));
}

void Client::set_sample_rate(double rate) {
  if (!(rate > 0.0)) throw std::invalid_argument("the sample rate must be positive");
  sample_rate_ = rate;
  timing_.fade = static_cast<std::int64_t>(fade_ratio_ * rate);
}

void Client::set_server_ramps_lead_in(bool ramped) { ramped_ = ramped; }

void Client::set_kept_batches(std::size_t batches) {
  if (batches < 1) throw std::invalid_argument("at least one batch must accept replies");
  placer_.keep(batches);
}

// --- requests --------------------------------------------------------------------------------

void Client::load_model() {
  loaded_ = true;
  for (const osc::Bytes& datagram :
       {messages::update_package_size(packet_size_), messages::update_r(timing_.r), messages::w(timing_.w),
        messages::update_fade(fade_ratio_), messages::predict_instruments(predicted_), messages::verbose(verbose_),
        messages::load_model()})
    send(datagram);
  if (extensions_) send(messages::hello());
}

void Client::hello() { send(messages::hello()); }
void Client::request_stats() { send(messages::stats()); }
void Client::print() { send(messages::print()); }

void Client::test_packet() {
  std::mt19937 random(static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> samples(static_cast<std::size_t>(packet_size_));
  for (float& s : samples) s = unit(random);
  packet_test_sent_ = Clock::now();
  send(messages::packet_test(samples, encoding_));
}

void Client::reset() {
  std::vector<std::string> notes;
  placer_.forget(notes);
  flush(notes, Level::warning);
  last_curr_ = 0;
  if (server_) send(messages::reset());
}

// --- steps -----------------------------------------------------------------------------------

std::int32_t Client::step(std::int64_t curr, SampleStore& store) {
  if (curr <= 0) return 0;  // nothing played yet: no block to send
  try {
    if (!server_) throw std::runtime_error("no server set (set_server host port)");
    if (store.channels() < static_cast<int>(stems_.size()))
      throw std::runtime_error("the buffer has " + std::to_string(store.channels()) + " channels for " +
                               std::to_string(stems_.size()) + " stems");
    const std::int64_t step_size = timing_.step();
    if (curr <= last_curr_) {
      log(Level::info, "playhead went back from " + std::to_string(last_curr_) + " to " + std::to_string(curr) +
                           ": resetting the server's stream");
      reset();
    }
    const std::int64_t steps_moved = std::max<std::int64_t>(1, (curr - last_curr_) / step_size);
    const std::int32_t id = last_batch_ + static_cast<std::int32_t>(steps_moved);
    const StepWindows windows = step_windows(curr, timing_);
    const std::vector<float> block = mix_context(store, predicted_, windows.read_start, windows.read_end);

    BatchPlan plan{id, windows.write_start, windows.reply_length(), timing_.fade, {}, Clock::now()};
    for (int channel = 0; channel < static_cast<int>(stems_.size()); ++channel) {
      if (!predicted_[channel]) continue;
      plan.channels.push_back(channel);
      const std::int64_t end = std::min(windows.content_end, store.frames());
      for (std::int64_t frame = std::max<std::int64_t>(windows.content_start, 0); frame < end; ++frame)
        store.set(channel, frame, 0.0f);  // silence, not stale audio, if the reply does not come
    }
    std::vector<std::string> notes;
    placer_.begin(std::move(plan), notes);
    flush(notes, Level::warning);
    last_batch_ = id;
    last_curr_ = curr;

    const auto datagrams = context_datagrams(id, block, packet_size_, encoding_,
                                             send_position_ ? std::optional(windows.read_start) : std::nullopt);
    for (const osc::Bytes& datagram : datagrams) send(datagram);
    ++stats_.batches_sent;
    stats_.chunks_sent += static_cast<std::int64_t>(datagrams.size());
    if (verbose_)
      log(Level::info, "batch " + std::to_string(id) + ": sent [" + std::to_string(windows.read_start) + ", " +
                           std::to_string(windows.read_end) + ") in " + std::to_string(datagrams.size()) +
                           " chunks; reply goes to [" + std::to_string(windows.write_start) + ", " +
                           std::to_string(windows.content_end) + ")");
    return id;
  } catch (const std::exception& e) {
    log(Level::error, std::string("step at ") + std::to_string(curr) + " not sent: " + e.what());
    return 0;
  }
}

void Client::poll(SampleStore& store) {
  std::vector<Received> got;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    got.swap(inbox_);
  }
  for (const Received& r : got) {
    std::visit(Overloaded{[&](const ServerEvent& event) { handle(event, r.at, store); },
                          [&](const Note& note) {
                            ++stats_.malformed;
                            log(Level::warning, "malformed datagram from the server: " + note.text);
                          }},
               r.what);
  }
}

void Client::handle(const ServerEvent& event, Clock::time_point at, SampleStore& store) {
  std::vector<std::string> notes;
  std::visit(
      Overloaded{
          [&](const ReplyChunk& chunk) {
            const auto it = std::find(stems_.begin(), stems_.end(), chunk.stem);
            if (it == stems_.end()) {
              ++stats_.chunks_stale;
              notes.push_back("reply for /" + chunk.stem + ", which is not one of this object's stems");
              return;
            }
            const std::int64_t before = stats_.batches_complete;
            placer_.place(chunk, static_cast<int>(it - stems_.begin()), store, ramped_, at, notes);
            if (stats_.batches_complete > before) {
              report("batch", chunk.batch_id);
              report("rtt_ms", stats_.last_rtt_ms);
              if (verbose_)
                log(Level::info, "batch " + std::to_string(chunk.batch_id) + " complete in " +
                                     std::to_string(static_cast<int>(stats_.last_rtt_ms)) + " ms");
            }
          },
          [&](const Ready&) {
            log(Level::info, loaded_ ? "server (re)started: sending the settings again" : "server is ready");
            try {
              if (loaded_) load_model();  // it starts from its own command-line settings
            } catch (const std::exception& e) {
              notes.push_back(std::string("cannot send the settings: ") + e.what());
            }
            report("ready", 1);
          },
          [&](const ServerPredicted&) {},
          [&](const BatchDropped& dropped) {
            ++stats_.batches_dropped;
            placer_.dropped(dropped.batch_id);
            notes.push_back("server dropped batch " + std::to_string(dropped.batch_id) + " (it was busy)");
          },
          [&](const HelloReply& hello) {
            if (!extensions_) return log(Level::info, "server " + hello.server + " offers extensions; not used");
            const bool blob = hello.has("blob"), position = hello.has("position");
            encoding_ = blob ? Encoding::blob : Encoding::floats;
            send_position_ = position;
            ramped_ = hello.has("ramped");  // our server says whether it pre-ramps the lead-in
            std::ostringstream line;
            line << "server " << hello.server << " (protocol " << hello.protocol << ", " << hello.sample_rate
                 << " Hz, T " << hello.context_samples << "): audio as " << (blob ? "blobs" : "float lists")
                 << (position ? " with positions" : "");
            log(Level::info, line.str());
            if (hello.sample_rate != static_cast<int>(sample_rate_))
              notes.push_back("the server runs at " + std::to_string(hello.sample_rate) + " Hz, this host at " +
                              std::to_string(static_cast<int>(sample_rate_)) + " Hz");
            if (hello.context_samples != timing_.T) {
              notes.push_back("T follows the server: " + std::to_string(hello.context_samples) + " samples (was " +
                              std::to_string(timing_.T) + ")");
              try {
                set_T(hello.context_samples);
              } catch (const std::invalid_argument& e) {
                notes.push_back(std::string("cannot use the server's T: ") + e.what());
              }
            }
          },
          [&](const StatsReply& reply) {
            std::ostringstream line;
            line << "server stats:";
            for (const auto& [name, value] : reply.values) {
              line << " " << name << " " << value;
              report("server_" + name, value);
            }
            log(Level::info, line.str());
          },
          [&](const Busy& busy) { notes.push_back("the server is busy: " + busy.reason); },
          [&](const PacketTestResponse& response) {
            const double ms = std::chrono::duration<double, std::milli>(at - packet_test_sent_).count();
            std::ostringstream line;
            line << "packet test: round trip " << ms << " ms, server received " << response.count << "/"
                 << packet_size_ << " floats";
            log(response.count == packet_size_ ? Level::info : Level::warning, line.str());
            report("packet_test_ms", ms);
          }},
      event);
  flush(notes, Level::warning);
}

void Client::flush(std::vector<std::string>& notes, Level level) {
  for (const std::string& note : notes) log(level, note);
  notes.clear();
}

void Client::log(Level level, const std::string& text) const {
  if (host_.log) host_.log(level, text);
}

void Client::report(const std::string& name, double value) const {
  if (host_.report) host_.report(name, value);
}

}  // namespace jaxaccomp
