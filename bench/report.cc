#include "report.h"

#include <cstdio>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace jss::bench {
namespace {

std::ostringstream& Report() {
  static std::ostringstream report;
  return report;
}

}  // namespace

void Line(const std::string& s) {
  std::cout << s << std::endl;
  Report() << s << "\n";
}

void SaveReport(const std::string& path) {
  if (path.empty()) return;
  std::ofstream(path) << Report().str();
}

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

double RssMiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // Fields after the command (which may hold spaces) start past the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  // State is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace jss::bench
