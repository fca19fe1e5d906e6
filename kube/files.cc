#include "kube/files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace agentrollout::kube {

Result<std::string> ReadFileToString(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    const int err = errno;
    const ErrorCode code = err == ENOENT   ? ErrorCode::kNotFound
                           : err == EACCES ? ErrorCode::kPermissionDenied
                                           : ErrorCode::kInternal;
    return Error(code, "cannot read " + path + ": " + std::strerror(err));
  }
  std::string out;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), file.get())) > 0) out.append(buf, n);
  if (std::ferror(file.get())) {
    return Error(ErrorCode::kInternal, "cannot read " + path + ": read error");
  }
  return out;
}

std::string TrimSpace(std::string_view text) {
  const char* space = " \t\r\n";
  std::size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return std::string();
  std::size_t end = text.find_last_not_of(space);
  return std::string(text.substr(begin, end - begin + 1));
}

}  // namespace agentrollout::kube
