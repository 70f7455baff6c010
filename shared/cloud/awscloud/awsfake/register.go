package awsfake

// register adds the services other files implement. Each service file
// adds its entry here.
func (s *Server) register() {
	s.services["ec2"] = s.serveEC2
	s.services["monitoring"] = s.serveCloudWatch
	s.services["ce"] = s.serveCostExplorer
	s.services["pricing"] = s.servePriceList
	s.services["s3"] = s.serveS3
}
