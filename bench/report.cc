#include "report.h"

#include <cstdio>
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

}  // namespace jss::bench
