-- wrk: each request POSTs the next purchase body of the file LCPHONE_BODIES names (one JSON body a line),
-- so that every purchase buys a different number.
local bodies = {}
for line in io.lines(os.getenv("LCPHONE_BODIES")) do
  bodies[#bodies + 1] = line
end
local turn = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  turn = turn % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[turn])
end
