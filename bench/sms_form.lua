-- wrk script: Africa's Talking inbound-SMS callbacks, each with a unique message id and a
-- sender number of its own (so every report is confirmed: no reply rate limit applies).
--   BENCH_RUN     tag making ids unique across runs on one database (default "run")
--   BENCH_TEXTS   file of texts, one per line, used in turn
--   BENCH_PHONES  first 6 characters of the senders' numbers after +227 ("90": +22790xxxxxx)
-- At the end it prints one JSON line: requests, seconds, errors, p50_us, p99_us.
-- The URL given to wrk carries the callback token (?token=...): wrk posts to its path and query.

local run = os.getenv("BENCH_RUN") or "run"
local phones = os.getenv("BENCH_PHONES") or "90"
local date = os.date("!%Y-%m-%d %H:%M:%S")

-- Texts: one per line in the file BENCH_TEXTS (written by bench_ingest.py from the gazetteer),
-- else a few reports naming seed communes.
local texts = {}
local path = os.getenv("BENCH_TEXTS")
if path then
  for line in io.lines(path) do if #line > 0 then table.insert(texts, line) end end
end
if #texts == 0 then
  texts = {"ATTAQUE GABI 12", "sace guidan sori uku", "3 Takoude 40", "hommes armes 30 a moto", "bonjour"}
end

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local encoded = {}
for i, t in ipairs(texts) do encoded[i] = urlencode(t) end

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local counter = 0
function init(args)
  tid = tid or 0
end

function request()
  counter = counter + 1
  local n = tid * 1000000 + counter
  local body = "from=%2B227" .. phones .. string.format("%06d", n % 1000000)
    .. "&to=3737&text=" .. encoded[(n % #encoded) + 1]
    .. "&date=" .. urlencode(date)
    .. "&id=" .. run .. "-" .. tid .. "-" .. counter
    .. "&linkId=L" .. counter .. "&networkCode=61402"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('{"requests": %d, "seconds": %f, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration / 1e6, errors, latency:percentile(50), latency:percentile(99)))
end
