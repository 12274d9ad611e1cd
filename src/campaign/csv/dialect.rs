//! Dialect detection: which delimiter a file uses, sniffed from its first rows (quotes
//! respected), because Spanish Excel writes `;`, others `,` or tab, and nobody says which.

use std::collections::HashMap;

use super::rows::is_blank;
use super::HEADER_SEARCH;

/// Chooses among `;`, `,` and tab the delimiter that splits the first rows into the same
/// number of fields (more than one) most often; `;` on ties, as Excel writes in Spain. Rows are
/// parsed with quotes, so `"Apellidos, nombre";telefono` is two fields with `;`.
pub(crate) fn sniff_delimiter(sample: &[u8], complete: bool) -> u8 {
    let mut best = (b';', (0usize, 0usize));
    for d in [b';', b',', b'\t'] {
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(d)
            .flexible(true)
            .has_headers(false)
            .from_reader(sample);
        let mut record = ::csv::ByteRecord::new();
        let mut counts = Vec::new();
        while counts.len() <= HEADER_SEARCH {
            match reader.read_byte_record(&mut record) {
                Ok(true) if is_blank(&record) => {}
                Ok(true) => counts.push(record.len()),
                _ => break,
            }
        }
        if !complete {
            // The sample may end in the middle of its last row.
            counts.pop();
        }
        counts.truncate(HEADER_SEARCH);
        let mut freq: HashMap<usize, usize> = HashMap::new();
        for &c in counts.iter().filter(|c| **c > 1) {
            *freq.entry(c).or_default() += 1;
        }
        let score = freq
            .into_iter()
            .map(|(count, n)| (n, count))
            .max()
            .unwrap_or((0, 0));
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use crate::campaign::csv::tests::*;
    use crate::campaign::csv::*;

    #[test]
    fn delimiter_is_the_one_that_splits_rows_evenly() {
        for (text, want) in [
            (
                &b"\"Nombre, apellidos\";telefono\n\"Ruiz, Ana\";600000001\n"[..],
                b';',
            ),
            (
                b"telefono;nombre;importe\n600000001;Ana;12,50\n600000002;Bea;7,25\n",
                b';',
            ),
            (b"telefono,nombre\n600000001,\"Ruiz; Ana\"\n", b','),
            (b"telefono\tnombre\n600000001\tAna, la de Bea\n", b'\t'),
            (b"telefono\n600000001\n", b';'),
        ] {
            let p = parse_bytes("x.csv", text, es()).unwrap();
            assert_eq!(
                p.layout.delimiter,
                want,
                "{}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(p.contacts[0].phone, "+34600000001");
        }
    }
}
