/* gen: benchmark inputs for the loader. Writes, into DIR:
 *   orders.csv          ROWS rows (5 products per consultora, consultoras repeated on
 *                       non-adjacent rows: row r belongs to consultora r % (ROWS/5))
 *   orders.xlsx         the first XLSX_ROWS rows of the same data (libxlsxwriter, constant memory)
 *   floor_orders.tsv    the same rows already normalised for COPY: orders (id, batch_id, seq,
 *   floor_items.tsv     code, name) and order_items (order_id, product_code, quantity, source_lines)
 * Usage: gen DIR ROWS XLSX_ROWS */
#include <stdio.h>
#include <stdlib.h>
#include <xlsxwriter.h>

static void row_of(long r, long orders, long *code, long *product, int *qty)
{
    long o = r % orders;          // consultora index: repeats every `orders` rows
    *code = 10000000 + o;
    *product = 80000 + (r / orders) * 7 + (o % 3); // distinct within one consultora
    *qty = 1 + (int)(r % 9);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: gen DIR ROWS XLSX_ROWS\n"), 2;
    const char *dir = argv[1];
    long rows = strtol(argv[2], NULL, 10), xrows = strtol(argv[3], NULL, 10);
    long orders = rows / 5, xorders = xrows / 5;
    char p[512];
    snprintf(p, sizeof p, "%s/orders.csv", dir);
    FILE *csv = fopen(p, "w");
    snprintf(p, sizeof p, "%s/floor_orders.tsv", dir);
    FILE *fo = fopen(p, "w");
    snprintf(p, sizeof p, "%s/floor_items.tsv", dir);
    FILE *fi = fopen(p, "w");
    if (!csv || !fo || !fi)
        return perror("gen"), 1;
    fputs("consultora_code,consultora_name,product_code,quantity\n", csv);
    for (long r = 0; r < rows; r++) {
        long code, product;
        int qty;
        row_of(r, orders, &code, &product, &qty);
        fprintf(csv, "%ld,Consultora Núñez %ld,%ld,%d\n", code, code % 100000, product, qty);
        if (r < orders)
            fprintf(fo, "%ld\t1\t%ld\t%ld\tConsultora Núñez %ld\n", r + 1, r + 1, code, code % 100000);
        fprintf(fi, "%ld\t%ld\t%d\t{%ld}\n", r % orders + 1, product, qty, r + 2);
    }
    fclose(csv);
    fclose(fo);
    fclose(fi);

    snprintf(p, sizeof p, "%s/orders.xlsx", dir);
    lxw_workbook_options wo = {.constant_memory = LXW_TRUE, .tmpdir = (char *)dir};
    lxw_workbook *wb = workbook_new_opt(p, &wo);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Hoja1");
    const char *h[4] = {"consultora_code", "consultora_name", "product_code", "quantity"};
    for (int c = 0; c < 4; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, h[c], NULL);
    for (long r = 0; r < xrows; r++) {
        long code, product;
        int qty;
        row_of(r, xorders, &code, &product, &qty);
        char name[64];
        snprintf(name, sizeof name, "Consultora Núñez %ld", code % 100000);
        worksheet_write_number(ws, (lxw_row_t)r + 1, 0, (double)code, NULL);
        worksheet_write_string(ws, (lxw_row_t)r + 1, 1, name, NULL);
        worksheet_write_number(ws, (lxw_row_t)r + 1, 2, (double)product, NULL);
        worksheet_write_number(ws, (lxw_row_t)r + 1, 3, qty, NULL);
    }
    return workbook_close(wb) == LXW_NO_ERROR ? 0 : 1;
}
