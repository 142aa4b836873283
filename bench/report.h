#pragma once

#include <string>

namespace jss::bench {

// A benchmark's markdown report: printed as it is written, and kept so that
// --out can save the whole of it (docs/benchmarks.md is pasted from it).
void Line(const std::string& s);
// Writes everything Line() printed to `path`; no-op for an empty path.
void SaveReport(const std::string& path);

// printf-style formatting of one number for a table cell.
std::string Fmt(const char* fmt, double v);

// Resident memory of a process, from /proc/<pid>/status, in MiB (-1 if unknown).
double RssMiB(int pid);
// CPU time (user + system) a process used so far, from /proc/<pid>/stat, in
// seconds (-1 if unknown).
double CpuSeconds(int pid);

}  // namespace jss::bench
