package awscloud

// ParsePriceItem exposes the Price List parser to the package's tests.
var ParsePriceItem = parsePriceItem
