-- wrk's script for the ingest benchmark (`bench.load.wrk`): POSTs signed webhooks.
-- args: the requests file (a line per webhook: "timestamp<TAB>x-zm-signature<TAB>body") and
-- the number of threads. Thread n of N sends lines n, n + N, ... in turn, so while the file
-- lasts no two requests carry the same body. Requests are formatted once, in init.
-- done() prints one JSON line that bench.load reads.

local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  prepared = {}
  local n = 0
  for line in io.lines(path) do
    if n % threads == id then
      local timestamp, signature, body = line:match("^(%d+)\t([^\t]+)\t(.*)$")
      prepared[#prepared + 1] = wrk.format("POST", wrk.path, {
        ["Content-Type"] = "application/json; charset=utf-8",
        ["User-Agent"] = "Zoom Marketplace/1.0a",
        ["x-zm-request-timestamp"] = timestamp,
        ["x-zm-signature"] = signature,
      }, body)
    end
    n = n + 1
  end
  index = 0
end

function request()
  index = index % #prepared + 1
  return prepared[index]
end

function done(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d,' ..
    ' "write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
