package azurefake

import (
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
	subsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions/fake"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
)

// bindNetwork installs, on a copy of the network factory made for one
// listing, the list handlers left nil: the subscription's public IP
// addresses and its network interfaces (one per VM, see NICOf).
func (s *Server) bindNetwork(f *networkfake.ServerFactory, info Request) {
	if f.PublicIPAddressesServer.NewListAllPager == nil {
		f.PublicIPAddressesServer.NewListAllPager = func(*armnetwork.PublicIPAddressesClientListAllOptions) azfake.PagerResponder[armnetwork.PublicIPAddressesClientListAllResponse] {
			var ips []*armnetwork.PublicIPAddress
			s.Estate.Lock()
			if sub := s.Estate.Sub(info.Subscription); sub != nil {
				for _, k := range sortedKeys(sub.PublicIPs) {
					ips = append(ips, PublicIPModel(sub.PublicIPs[k]))
				}
			}
			s.Estate.Unlock()
			return pages(ips, s.opts.PageSize, func(v []*armnetwork.PublicIPAddress) armnetwork.PublicIPAddressesClientListAllResponse {
				return armnetwork.PublicIPAddressesClientListAllResponse{PublicIPAddressListResult: armnetwork.PublicIPAddressListResult{Value: v}}
			})
		}
	}
	if f.InterfacesServer.NewListAllPager == nil {
		f.InterfacesServer.NewListAllPager = func(*armnetwork.InterfacesClientListAllOptions) azfake.PagerResponder[armnetwork.InterfacesClientListAllResponse] {
			var nics []*armnetwork.Interface
			s.Estate.Lock()
			if sub := s.Estate.Sub(info.Subscription); sub != nil {
				byConfig := map[string]string{}
				for _, ip := range sub.PublicIPs {
					if ip.IPConfigurationID != "" {
						byConfig[Key(ip.IPConfigurationID)] = ip.ID
					}
				}
				for _, k := range sortedKeys(sub.VMs) {
					nics = append(nics, NICModel(sub.VMs[k], byConfig[Key(IPConfigurationOf(sub.VMs[k]))]))
				}
			}
			s.Estate.Unlock()
			return pages(nics, s.opts.PageSize, func(v []*armnetwork.Interface) armnetwork.InterfacesClientListAllResponse {
				return armnetwork.InterfacesClientListAllResponse{InterfaceListResult: armnetwork.InterfaceListResult{Value: v}}
			})
		}
	}
}

// PublicIPModel returns the ARM model of a public IP address.
func PublicIPModel(ip *PublicIP) *armnetwork.PublicIPAddress {
	sku, version, alloc := ip.SKU, ip.Version, ip.Allocation
	if sku == "" {
		sku = "Standard"
	}
	if version == "" {
		version = "IPv4"
	}
	if alloc == "" {
		alloc = "Static"
	}
	props := &armnetwork.PublicIPAddressPropertiesFormat{
		PublicIPAddressVersion:   to.Ptr(armnetwork.IPVersion(version)),
		PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethod(alloc)),
		ProvisioningState:        to.Ptr(armnetwork.ProvisioningStateSucceeded),
	}
	if ip.Address != "" {
		props.IPAddress = to.Ptr(ip.Address)
	}
	if ip.IPConfigurationID != "" {
		props.IPConfiguration = &armnetwork.IPConfiguration{ID: to.Ptr(ip.IPConfigurationID)}
	}
	if ip.NATGatewayID != "" {
		props.NatGateway = &armnetwork.NatGateway{ID: to.Ptr(ip.NATGatewayID)}
	}
	return &armnetwork.PublicIPAddress{
		ID: to.Ptr(ip.ID), Name: to.Ptr(NameOf(ip.ID)), Type: to.Ptr("Microsoft.Network/publicIPAddresses"), Location: to.Ptr(ip.Location),
		SKU:  &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUName(sku)), Tier: to.Ptr(armnetwork.PublicIPAddressSKUTierRegional)},
		Tags: tagPtrs(ip.Tags), Zones: strPtrs(ip.Zones), Properties: props,
	}
}

// NICModel returns the ARM model of vm's network interface, its IP
// configuration associated with the public IP publicIPID ("" for none).
func NICModel(vm *VM, publicIPID string) *armnetwork.Interface {
	cfg := &armnetwork.InterfaceIPConfiguration{ID: to.Ptr(IPConfigurationOf(vm)), Name: to.Ptr("ipconfig1"),
		Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Primary: to.Ptr(true)}}
	if publicIPID != "" {
		cfg.Properties.PublicIPAddress = &armnetwork.PublicIPAddress{ID: to.Ptr(publicIPID)}
	}
	id := NICOf(vm)
	return &armnetwork.Interface{
		ID: to.Ptr(id), Name: to.Ptr(NameOf(id)), Type: to.Ptr("Microsoft.Network/networkInterfaces"), Location: to.Ptr(vm.Location),
		Properties: &armnetwork.InterfacePropertiesFormat{
			VirtualMachine:   &armnetwork.SubResource{ID: to.Ptr(vm.ID)},
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{cfg},
			Primary:          to.Ptr(true),
		},
	}
}

// bindSubscriptions installs the subscription listing on a copy of the
// subscriptions factory made for one listing.
func (s *Server) bindSubscriptions(f *subsfake.ServerFactory, _ Request) {
	if f.Server.NewListPager != nil {
		return
	}
	f.Server.NewListPager = func(*armsubscriptions.ClientListOptions) azfake.PagerResponder[armsubscriptions.ClientListResponse] {
		var subs []*armsubscriptions.Subscription
		s.Estate.Lock()
		for _, k := range sortedKeys(s.Estate.Subscriptions) {
			sub := s.Estate.Subscriptions[k]
			state := sub.State
			if state == "" {
				state = string(armsubscriptions.SubscriptionStateEnabled)
			}
			m := &armsubscriptions.Subscription{ID: to.Ptr("/subscriptions/" + sub.ID), SubscriptionID: to.Ptr(sub.ID),
				DisplayName: to.Ptr(sub.Name), State: to.Ptr(armsubscriptions.SubscriptionState(state))}
			if sub.TenantID != "" {
				m.TenantID = to.Ptr(sub.TenantID)
			}
			subs = append(subs, m)
		}
		s.Estate.Unlock()
		return pages(subs, s.opts.PageSize, func(v []*armsubscriptions.Subscription) armsubscriptions.ClientListResponse {
			return armsubscriptions.ClientListResponse{SubscriptionListResult: armsubscriptions.SubscriptionListResult{Value: v}}
		})
	}
}
