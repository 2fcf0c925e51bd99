-- wrk script for bench/serve.sh: at the end, one machine-readable line
--   WRK <requests> <duration µs> <p50 µs> <p99 µs> <errors>
-- errors: connect, read, write and timeout errors plus responses with a status >= 400.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
