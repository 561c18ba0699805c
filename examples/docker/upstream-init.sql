-- Sample data for the compose demo upstream (the `mysql` service), in MySQL 8.0 syntax.
-- docker-compose.yml mounts this file into /docker-entrypoint-initdb.d/, so the mysql image
-- runs it once, when its data volume is empty (`docker compose down -v` to run it again).
-- It mirrors scripts/demo-data.sql (which uses MariaDB's sequence engine) at a smaller size.
CREATE DATABASE IF NOT EXISTS test_db;
CREATE TABLE test_db.test_table (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  customer VARCHAR(64) NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  placed_at DATETIME(6) NOT NULL,
  note TEXT,
  payload JSON,
  KEY idx_customer (customer)
) DEFAULT CHARSET=utf8mb4;

SET SESSION cte_max_recursion_depth = 20000;
INSERT INTO test_db.test_table
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 20000)
SELECT n,
       CONCAT('customer-', n % 977),
       (n * 37 % 100000) / 100,
       TIMESTAMP('2026-01-01') + INTERVAL n SECOND,
       IF(n % 10 = 0, NULL, CONCAT('order ', n, ' ✓ 注文')),
       JSON_OBJECT('seq', n, 'big', 9007199254740993 + n)
FROM seq;

-- Not in the task's block-allow list: stays on the source.
CREATE TABLE test_db.audit_log (id INT PRIMARY KEY, msg TEXT);
INSERT INTO test_db.audit_log VALUES (1, 'not migrated');
