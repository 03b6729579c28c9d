"""What the tests share, one job a module: the environment (`environment`), AWS under moto (`aws`), the API
as API Gateway calls it (`api`), faults below botocore's retries (`faults`), worker processes on one moto
server (`workers`), and the constants every test reads (`constants`). Nothing here acts at import."""
