// IPv4 UDP sockets (POSIX; Winsock on Windows). Errors are std::runtime_error with one line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace jaxaccomp {

struct Endpoint {
  std::uint32_t address = 0;  // network byte order
  std::uint16_t port = 0;     // host byte order
};

// `host` as a dotted quad or a name (IPv4 only).
Endpoint resolve(const std::string& host, int port);

class UdpSocket {
 public:
  UdpSocket();  // unbound; sends from an ephemeral port
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  void bind(int port);                 // INADDR_ANY:port (0 picks a free port); a port in use is an error
  int local_port() const;
  void set_buffers(int bytes);         // SO_RCVBUF and SO_SNDBUF, best effort
  void send_to(const Endpoint& to, const std::uint8_t* data, std::size_t size);
  // One datagram into `buffer`, or nothing after `timeout_ms`.
  std::optional<std::size_t> receive(std::uint8_t* buffer, std::size_t capacity, int timeout_ms);

 private:
  std::intptr_t fd_;
};

}  // namespace jaxaccomp
