// Package holiday computes public holiday calendars. They let a schedule keep a VM off on
// the days off of a country's workforce and let the optimizer count those
// days as savings. Scope, precisely:
//
//   - National (nationwide) public holidays only. Regional holidays —
//     US state holidays, German Länder, Spanish autonomous communities,
//     Scottish and Northern Irish bank holidays, Australian states and
//     territories, Canadian provinces, Indian states, Brazilian states
//     and cities — are not included.
//   - Days that are generally days off. Optional or customary days (the
//     Brazilian Carnival; the Dutch Liberation Day, a day off for most
//     only every fifth year), days that are statutory only for part of
//     the workforce, and holidays that always fall on a Sunday (Easter
//     Sunday, Whit Sunday) are left out; the comment on each calendar's
//     rules says which.
//   - Where a country gives the day off on another weekday when a holiday
//     falls on a weekend (US federal observance, United Kingdom, Irish,
//     Canadian and Australian substitute days, the Japanese substitute
//     holiday), the calendar lists both the holiday on its own date and
//     the day off, the latter named with a suffix such as "(observed)".
//   - Every date is computed by rule: fixed dates, the nth or last weekday
//     of a month, days relative to Gregorian Easter (the anonymous
//     Gregorian computus), the Japanese equinox formula, and each
//     country's substitute-day rule. There are no tables of dates, so
//     one-off days proclaimed for a single year (royal weddings,
//     jubilees, funerals, coronations, the Japanese 2019 enthronement and
//     the moved holidays of 2020 and 2021) are not included.
//   - The rules are those in force today. Holidays introduced after 1970
//     start in the year of their introduction where the calendar says so;
//     older changes of law are not modeled, so years long past may differ
//     from what was observed then.
package holiday
