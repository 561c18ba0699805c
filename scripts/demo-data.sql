-- The demo's sample database, loaded into each upstream with @base set so the two clusters'
-- keys do not collide when they merge into one target table.
DROP DATABASE IF EXISTS test_db;
CREATE DATABASE test_db;
CREATE TABLE test_db.test_table (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  customer VARCHAR(64) NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  placed_at DATETIME(6) NOT NULL,
  note TEXT,
  payload JSON,
  KEY idx_customer (customer)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO test_db.test_table
SELECT @base + seq,
       CONCAT('customer-', seq % 977),
       (seq * 37 % 100000) / 100,
       TIMESTAMP('2026-01-01') + INTERVAL seq SECOND,
       IF(seq % 10 = 0, NULL, CONCAT('order ', seq, ' ✓ 注文')),
       JSON_OBJECT('seq', seq, 'big', 9007199254740993 + seq)
FROM test_db.seq_1_to_50000;
-- Not in the task's block-allow list: stays on the source.
CREATE TABLE test_db.audit_log (id INT PRIMARY KEY, msg TEXT);
INSERT INTO test_db.audit_log VALUES (1, 'not migrated');
