#include "cli/progress.h"

#include <unistd.h>

namespace resdyn::cli {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

ProgressLine::ProgressLine(std::FILE* out) : out_(out), terminal_(isatty(fileno(out)) != 0) {}

void ProgressLine::update(const BatchProgress& p) {
  const double now = monotonic_seconds();
  char line[160];
  std::snprintf(line, sizeof line, "epoch %d/%d  batch %ld/%ld  loss %.4f  %.0f samples/s  ETA %s", p.epoch, p.epochs,
                p.batch, p.batches, p.loss, p.samples_per_second, format_duration(p.eta_seconds).c_str());
  if (terminal_) {
    if (now - last_draw_ < 0.1 && p.batch != p.batches) return;
    last_draw_ = now;
    std::fprintf(out_, "\r\033[K%s", line);
    drawn_ = true;
  } else {
    const int quarter = int(4 * p.batch / p.batches);
    if (p.batch == 1) last_quarter_ = 0;
    if (quarter == last_quarter_ || quarter == 4) return;
    last_quarter_ = quarter;
    std::fprintf(out_, "%s\n", line);
  }
  std::fflush(out_);
}

void ProgressLine::clear() {
  if (terminal_ && drawn_) std::fprintf(out_, "\r\033[K");
  drawn_ = false;
  std::fflush(out_);
}

}  // namespace resdyn::cli
