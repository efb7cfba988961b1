-- The load of the page benchmark, for wrk (https://github.com/wg/wrk, Debian package `wrk`).
--
-- wrk -t THREADS -c CONNECTIONS -d SECONDS -s load.lua URL -- TARGETS TOKENS SEED PREFIX
--
-- Every request is a GET of a target drawn at random (LuaJIT's math.random, seeded with SEED plus
-- the thread's number) from the file TARGETS, one request target per line. Its bearer token
-- cycles through TOKENS tokens per thread ("PREFIX-<thread>-<i>"), so a run of THREADS threads
-- uses THREADS * TOKENS connections of the simulated connector. At the end one line starting with
-- "WRK-JSON " gives the totals and the latency distribution (microseconds) as JSON.
--
-- There is no response() function on purpose: with one, wrk hands every response's headers and
-- body to Lua, which would make the load generator much slower.

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("thread_number", threads)
end

local targets = {}
local tokens = {}
local token = 0

function init(args)
   for line in io.lines(args[1]) do
      if line ~= "" then
         targets[#targets + 1] = line
      end
   end
   if #targets == 0 then
      error("no request targets in " .. args[1])
   end
   local prefix = args[4] or "bench"
   for i = 1, tonumber(args[2]) do
      tokens[i] = "Bearer " .. prefix .. "-" .. thread_number .. "-" .. i
   end
   math.randomseed(tonumber(args[3]) + thread_number)
end

function request()
   token = token % #tokens + 1
   local target = targets[math.random(#targets)]
   return wrk.format("GET", target, { ["Authorization"] = tokens[token] })
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
      '"latency_p50_us":%d,"latency_p99_us":%d,"latency_p999_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
