-- wrk script for bench/run.py: every request asks for a path picked at random from the file the
-- harness wrote (one path per line, given after `--`); at the end, one JSON line with the counts
-- and the whole latency histogram, so that the harness can merge the rounds of a scenario into
-- exact percentiles.

local paths = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  -- Each thread has its own Lua state: seed each differently, or they request the same paths.
  math.randomseed(os.time() * 1000 + id)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local errors = summary.errors
  -- latency(i) is the i-th distinct latency (microseconds) and how many requests took it.
  local histogram = {}
  for i = 1, #latency do
    local value, count = latency(i)
    histogram[#histogram + 1] = string.format("[%d,%d]", value, count)
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "status": %d, "timeout": %d, "histogram": [%s]}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, table.concat(histogram, ",")
  ))
end
