-- 0005_transaction_payment_reference_unique: payment references identify one transaction
-- (D-DM-12). Legacy data may hold duplicates; then this migration stops with a clear message
-- and an operator must resolve them first (nothing is changed automatically).

DO $$
DECLARE
    duplicated integer;
BEGIN
    SELECT count(*) INTO duplicated FROM (
        SELECT "paymentReference" FROM "Transaction"
        WHERE "paymentReference" IS NOT NULL
        GROUP BY "paymentReference" HAVING count(*) > 1
    ) AS d;
    IF duplicated > 0 THEN
        RAISE EXCEPTION
            'cannot make "Transaction"."paymentReference" unique: % reference(s) are used by more than one row (D-DM-12)', duplicated
            USING HINT = 'List them with: SELECT "paymentReference", count(*) FROM "Transaction" '
                         'GROUP BY 1 HAVING count(*) > 1; resolve them, then run migrate again.';
    END IF;
END
$$;

CREATE UNIQUE INDEX transaction_payment_reference_key ON "Transaction" ("paymentReference");
