-- wrk script: GET /users/{u}/recommendations?n=10 for random known users of MovieLens 100k.
-- embedrec serve models/ml-100k --workers 2 --port 8031 &
-- wrk -t1 -c32 -d10s --latency -s benchmarks/serve_users.lua http://127.0.0.1:8031
math.randomseed(1)
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, 943) .. "/recommendations?n=10")
end
